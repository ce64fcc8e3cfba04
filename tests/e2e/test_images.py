"""/v1/images through the real clients against a real registry on loopback: pull onto the
host, list, show, search, delete; bad input is a Zun-format 4xx that leaves no record; and
`image_pull_policy` on container create as the engine sees it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from zunclient.v1.client import Client

from tests.support.osc import Osc
from tests.support.registry import Registry
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, remove_image
from tests.support.wait import wait_for, wait_gone, wait_status
from tests.support.zun import assert_zun_error, unique_name
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    running = Registry(tmp_path_factory.mktemp("images-registry")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def hostname(http: httpx.Client) -> str:
    return str(http.get("/v1/hosts").json()["hosts"][0]["hostname"])


def wait_image(http: httpx.Client, ident: str, status: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/v1/images/{ident}").json()
        return body if body.get("status") == status else None

    found: dict[str, Any] = wait_for(check, 60, what=f"image {ident} to be {status}")
    return found


def image_uuids(http: httpx.Client) -> set[str]:
    return {i["uuid"] for i in http.get("/v1/images").json()["images"]}


def engine_has(ref: str) -> bool:
    client = docker.from_env()
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    finally:
        client.close()
    return True


def engine_image_id(ref: str) -> str:
    client = docker.from_env()
    try:
        return str(client.images.get(ref).id)
    finally:
        client.close()


def test_pull_list_show_search_and_delete_through_the_clients(
    server: DockyardProcess, http: httpx.Client, osc: Osc, registry: Registry, hostname: str
) -> None:
    ref = registry.push_test_image(f"dockyard-test/pull-{uuid.uuid4().hex[:8]}")
    repo = ref.rsplit(":", 1)[0]
    assert not engine_has(ref)
    zun: Client = make_client(server.url, "1.40")
    accepted = zun.images.create(repo=ref, host=hostname)
    assert (accepted.repo, accepted.tag, accepted.host) == (repo, "1", hostname)
    try:
        pulled = wait_image(http, accepted.uuid, "Pulled")
        assert engine_has(ref)  # the host's engine has it: the agent pulled it
        assert pulled["image_id"].startswith("sha256:")
        assert pulled["size"] > 0
        assert pulled["progress"]["current"] == pulled["progress"]["total"] > 0
        listed = {row["uuid"]: row for row in osc.json("image", "list")}
        assert listed[accepted.uuid]["repo"] == repo
        shown = osc.json("image", "show", accepted.uuid)
        assert (shown["host"], shown["tag"], shown["image_id"]) == (
            hostname,
            "1",
            pulled["image_id"],
        )
        found = osc.json("image", "search", repo.rsplit("/", 1)[-1])
        assert [row["Name"] for row in found] == [repo]
        assert osc.json("image", "search", "--exact-match", repo)[0]["Name"] == repo
        assert osc.json("image", "search", "nothing-called-this") == []
    finally:
        osc("image", "delete", accepted.uuid)
    assert_zun_error(http.get(f"/v1/images/{accepted.uuid}"), 404, "container.image-not-found")
    assert not engine_has(ref)


def test_an_image_the_registry_lacks_ends_in_error_saying_why(
    http: httpx.Client, registry: Registry, hostname: str
) -> None:
    ref = f"{registry.address}/dockyard-test/absent:9"
    response = http.post("/v1/images", json={"repo": ref, "host": hostname})
    assert response.status_code == 202, response.text
    assert response.headers["Location"].endswith(f"/v1/images/{response.json()['uuid']}")
    failed = wait_image(http, response.json()["uuid"], "Error")
    assert ref in failed["status_reason"]
    assert hostname in failed["status_reason"]
    assert http.delete(f"/v1/images/{failed['uuid']}").status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        pytest.param({"repo": "busybox", "host": "no-such-host"}, 404, "container.host-not-found",
                     id="unknown-host"),
        pytest.param({"host": "H"}, 400, "container.invalid-value", id="no-repo"),
        pytest.param({"repo": "busybox"}, 400, "container.invalid-value", id="no-host"),
        pytest.param({"repo": "Not/Valid", "host": "H"}, 400, "container.invalid-value",
                     id="bad-reference"),
        pytest.param({"repo": "busybox:1", "tag": "2", "host": "H"}, 400,
                     "container.invalid-value", id="two-tags"),
        pytest.param({"repo": "busybox", "host": "H", "image_pull_policy": "sometimes"}, 400,
                     "container.invalid-value", id="bad-policy"),
        pytest.param({"repo": "busybox", "host": "H", "colour": "red"}, 400,
                     "container.invalid-value", id="unknown-field"),
    ],
)  # fmt: skip
def test_bad_pull_is_a_zun_error_and_leaves_no_record(
    http: httpx.Client, hostname: str, body: dict[str, Any], status: int, code: str
) -> None:
    before = image_uuids(http)
    if body.get("host") == "H":
        body = {**body, "host": hostname}
    assert_zun_error(http.post("/v1/images", json=body), status, code)
    assert image_uuids(http) == before


def test_unknown_image_is_not_found(http: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    assert_zun_error(http.get(f"/v1/images/{missing}"), 404, "container.image-not-found")
    assert_zun_error(http.delete(f"/v1/images/{missing}"), 404, "container.image-not-found")
    assert_zun_error(http.get("/v1/images", params={"sort_key": "colour"}), 400)
    bad_driver = http.get("/v1/images/busybox/search", params={"image_driver": "glance"})
    assert_zun_error(bad_driver, 400, "container.invalid-value")


def _run(http: httpx.Client, image: str, policy: str) -> dict[str, Any]:
    body = {"name": unique_name(f"pp-{policy}"), "image": image, "command": SLEEP_FOREVER,
            "image_pull_policy": policy}  # fmt: skip
    response = http.post("/v1/containers?run=true", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def test_image_pull_policy_is_honoured_on_create(http: httpx.Client, tmp_path: Path) -> None:
    """`never` runs only what the host has; `ifnotpresent` pulls only what it lacks; `always`
    asks the registry every time (so with the registry gone it fails, as the others do not)."""
    own = Registry(tmp_path).start()
    ref = own.push_test_image(f"dockyard-test/policy-{uuid.uuid4().hex[:8]}")
    made: list[dict[str, Any]] = []
    try:
        made.append(never := _run(http, ref, "never"))
        refused = wait_status(http, never["uuid"], "Error", timeout=60)
        assert "image_pull_policy is never" in refused["status_reason"]
        made.append(first := _run(http, ref, "ifnotpresent"))
        wait_status(http, first["uuid"], "Running", timeout=60)  # pulled it
        own.stop()  # from here on the registry cannot be asked
        made.append(again := _run(http, ref, "ifnotpresent"))
        wait_status(http, again["uuid"], "Running", timeout=60)  # the host has it: no pull
        made.append(always := _run(http, ref, "always"))
        failed = wait_status(http, always["uuid"], "Error", timeout=60)
        assert own.address in failed["status_reason"]
    finally:
        for container in made:
            http.delete(f"/v1/containers/{container['uuid']}?force=True")
        for container in made:
            wait_gone(http, container["uuid"])
        remove_image(ref)
        own.stop()


@pytest.mark.parametrize("policy", ["sometimes", "", "ALWAYS-ish"])
def test_a_bad_image_pull_policy_on_create_is_400_and_makes_nothing(
    http: httpx.Client, policy: str
) -> None:
    name = unique_name("pp-bad")
    body = {"name": name, "image": "busybox", "image_pull_policy": policy}
    assert_zun_error(http.post("/v1/containers", json=body), 400)
    assert_zun_error(http.get(f"/v1/containers/{name}"), 404, "container.container-not-found")


def test_a_pull_for_a_container_create_is_recorded_like_an_explicit_pull(
    http: httpx.Client, osc: Osc, registry: Registry, hostname: str
) -> None:
    """The agent's own pull (the image not on the host) shows in the image list of its host
    with an explicit pull's fields; a second container of the image adds no second record."""
    ref = registry.push_test_image(f"dockyard-test/create-{uuid.uuid4().hex[:8]}")
    repo = ref.rsplit(":", 1)[0]
    made = [_run(http, ref, "ifnotpresent")]
    try:
        running = wait_status(http, made[0]["uuid"], "Running", timeout=60)
        rows = [row for row in osc.json("image", "list") if row["repo"] == repo]
        assert len(rows) == 1, rows
        shown = http.get(f"/v1/images/{rows[0]['uuid']}").json()
        assert (shown["host"], shown["tag"], shown["status"]) == (hostname, "1", "Pulled")
        assert shown["image_id"] == engine_image_id(ref)
        assert shown["size"] > 0
        assert shown["progress"] == {"current": shown["size"], "total": shown["size"]}
        assert (shown["project_id"], shown["image_pull_policy"]) == (
            running["project_id"], "ifnotpresent",
        )  # fmt: skip
        made.append(_run(http, ref, "always"))  # pulls again: the same record, refreshed
        wait_status(http, made[1]["uuid"], "Running", timeout=60)
        again = [row for row in http.get("/v1/images").json()["images"] if row["repo"] == repo]
        assert [row["uuid"] for row in again] == [shown["uuid"]]
        assert again[0]["image_pull_policy"] == "always"
    finally:
        for container in made:
            http.delete(f"/v1/containers/{container['uuid']}?force=True")
        for container in made:
            wait_gone(http, container["uuid"])
        for row in http.get("/v1/images").json()["images"]:
            if row["repo"] == repo:
                http.delete(f"/v1/images/{row['uuid']}")
        remove_image(ref)
