"""Private registries through the real clients, against a real Distribution registry on
loopback with htpasswd (bcrypt) authentication: with the right registry record the pull works,
without one (or with a wrong password) the container ends in Error saying why; the password
is never answered, logged or stored in clear; another project's registry does not exist."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.deployments import Caller, Deployment, running, start_tokens_deployment
from tests.support.registry import Registry
from tests.support.testimage import SLEEP_FOREVER, remove_image
from tests.support.wait import wait_for
from tests.support.zun import assert_zun_error, unique_name
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine

PASSWORD = "reg-s3cret-" + uuid.uuid4().hex
USER = "pusher"
OPENSTACK = str(Path(sys.executable).parent / "openstack")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    running = Registry(tmp_path_factory.mktemp("private-registry"), users={USER: PASSWORD})
    yield running.start()
    running.stop()


@pytest.fixture(scope="module")
def image(registry: Registry) -> Iterator[str]:
    ref = registry.push_test_image(f"dockyard-test/private-{uuid.uuid4().hex[:8]}")
    yield ref
    remove_image(ref)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[Deployment]:
    with running(start_tokens_deployment(tmp_path_factory.mktemp("registries"))) as deployment:
        yield deployment


def osc(deployment: Deployment, caller: Caller, home: Path, *args: str) -> Any:
    command = [
        OPENSTACK, "--os-auth-type", "admin_token", f"--os-token={caller.token}",
        "--os-endpoint", f"{deployment.server.url}/v1", "appcontainer", *args,
    ]  # fmt: skip
    if "-f" not in args:  # `run` takes it before the image: the rest is the container's
        command += ["-f", "json"]
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def record(deployment: Deployment, registry: Registry) -> Iterator[dict[str, Any]]:
    """alpha's registry record with the right credentials, made through python-zunclient."""
    zun = make_client(deployment.server.url, token=deployment.alpha.token)
    made = zun.registries.create(
        name="private", domain=registry.address, username=USER, password=PASSWORD
    )
    info: dict[str, Any] = made._info["registry"]
    yield info
    zun.registries.delete(info["uuid"])


def wait_settled(api: httpx.Client, ident: str) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/containers/{ident}").json()
        return body if body["status"] in ("Running", "Error") else None

    found: dict[str, Any] = wait_for(settled, 90, what=f"{ident} to run or fail")
    return found


def run(api: httpx.Client, image: str, **extra: Any) -> dict[str, Any]:
    body = {"name": unique_name("priv"), "image": image, "command": SLEEP_FOREVER, **extra}
    response = api.post("/v1/containers?run=true", json=body)
    assert response.status_code == 202, response.text
    return dict(response.json())


def test_the_record_answers_the_password_as_stars(
    deployment: Deployment, record: dict[str, Any], tmp_path: Path
) -> None:
    assert (record["name"], record["username"], record["password"]) == ("private", USER, "***")
    assert record["project_id"] == deployment.alpha.project_id
    listed = osc(deployment, deployment.alpha, tmp_path, "registry", "list")
    assert [(r["uuid"], r["password"]) for r in listed] == [(record["uuid"], "***")]
    shown = osc(deployment, deployment.alpha, tmp_path, "registry", "show", "private")
    assert (shown["domain"], shown["password"]) == (record["domain"], "***")
    with deployment.client(deployment.beta) as api:  # another project sees nothing of it
        assert api.get("/v1/registries").json()["registries"] == []
        assert_zun_error(api.get("/v1/registries/private"), 404, "container.registry-not-found")


def test_a_private_image_runs_with_the_registry_and_fails_saying_why_without(
    deployment: Deployment, record: dict[str, Any], image: str, registry: Registry
) -> None:
    with deployment.client(deployment.alpha) as api:
        good = run(api, image, registry="private")
        assert good["registry_id"] == record["uuid"]
        assert wait_settled(api, good["uuid"])["status"] == "Running"
        remove_image(image)  # (an untag: the running container keeps its layers)
        bare = run(api, image)
        failed = wait_settled(api, bare["uuid"])
        assert failed["status"] == "Error"
        reason = failed["status_reason"]
        assert image in reason
        assert "without credentials" in reason
        assert "registry" in reason
        # The create was accepted, then the host failed it: its action says so, and only an
        # administrator reads the engine's words in its event.
        (create,) = api.get(f"/v1/containers/{bare['uuid']}/container_actions").json()[
            "containerActions"
        ]
        assert (create["action"], create["message"]) == ("create", "Error")
        path = f"/v1/containers/{bare['uuid']}/container_actions/{create['request_id']}"
        events = api.get(path).json()["events"]
        assert [(e["event"], e["result"], e["traceback"]) for e in events] == [
            ("api_create", "Success", None), ("agent_report", "Error", None),
        ]  # fmt: skip
        with deployment.client(deployment.admin) as admin:
            seen = admin.get(path).json()["events"]
        assert "no basic auth credentials" in seen[1]["traceback"]
        for made in (good, bare):
            api.delete(f"/v1/containers/{made['uuid']}?force=true")


def test_wrong_credentials_end_in_error_saying_whose(
    deployment: Deployment, image: str, registry: Registry
) -> None:
    remove_image(image)
    with deployment.client(deployment.alpha) as api:
        bad = api.post("/v1/registries", json={"registry": {
            "name": "wrong", "domain": registry.address, "username": USER,
            "password": "not-the-password",
        }})  # fmt: skip
        assert bad.status_code == 201, bad.text
        made = run(api, image, registry="wrong")
        failed = wait_settled(api, made["uuid"])
        assert failed["status"] == "Error"
        assert f"as {USER} of {registry.address}" in failed["status_reason"]
        assert "not-the-password" not in failed["status_reason"]
        api.delete(f"/v1/containers/{made['uuid']}?force=true")
        assert api.delete(f"/v1/registries/{bad.json()['registry']['uuid']}").status_code == 204


def _names(api: httpx.Client) -> set[str]:
    return {c["name"] for c in api.get("/v1/containers").json()["containers"]}


def test_unknown_or_another_projects_registry_is_404_and_makes_nothing(
    deployment: Deployment, record: dict[str, Any], image: str
) -> None:
    for caller, ident in ((deployment.alpha, "no-such-registry"), (deployment.beta, "private"),
                          (deployment.beta, record["uuid"])):  # fmt: skip
        with deployment.client(caller) as api:
            before = _names(api)
            body = {"name": unique_name("nope"), "image": image, "registry": ident}
            refused = api.post("/v1/containers", json=body)
            assert_zun_error(refused, 404, "container.registry-not-found")
            assert _names(api) == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"registry": {"name": "x"}}, id="no-domain"),
        pytest.param({"registry": {"domain": "http://r.example/"}}, id="bad-domain"),
        pytest.param({"registry": {"domain": "r.example", "colour": "red"}}, id="unknown-field"),
        pytest.param({"domain": "r.example"}, id="not-wrapped"),
        pytest.param({"registry": {"domain": "r.example", "password": 5}}, id="password-number"),
    ],
)
def test_bad_registry_bodies_are_400_and_make_nothing(
    deployment: Deployment, body: dict[str, Any]
) -> None:
    with deployment.client(deployment.beta) as api:
        response = api.post("/v1/registries", json=body)
        assert response.status_code == 400, response.text
        assert_zun_error(response, 400)
        assert api.get("/v1/registries").json()["registries"] == []


def test_update_and_the_secret_never_leaves_in_clear(
    deployment: Deployment, record: dict[str, Any], tmp_path: Path
) -> None:
    zun = make_client(deployment.server.url, token=deployment.alpha.token)
    renamed = zun.registries.update(record["uuid"], name="private", username=USER,
                                    password=PASSWORD)  # fmt: skip
    assert renamed._info["registry"]["password"] == "***"
    with deployment.client(deployment.admin) as api:
        everything = api.get("/v1/registries", params={"all_projects": "true"}).text
    assert record["uuid"] in everything
    assert PASSWORD not in everything
    stored = b"".join(p.read_bytes() for p in deployment.server.data_dir.glob("dockyard.db*"))
    assert PASSWORD.encode() not in stored
    assert PASSWORD not in deployment.server.log()


def test_an_image_pull_onto_a_host_uses_the_callers_registry_for_its_domain(
    deployment: Deployment, image: str, registry: Registry
) -> None:
    remove_image(image)
    with deployment.client(deployment.admin) as api:
        host = api.get("/v1/hosts").json()["hosts"][0]["hostname"]
        refused = api.post("/v1/images", json={"repo": image, "host": host}).json()
        failed = wait_for(lambda: _image_settled(api, refused["uuid"]), 60, what="the pull")
        assert failed["status"] == "Error"
        assert "no basic auth credentials" in failed["status_reason"]
        ops = api.post("/v1/registries", json={"registry": {
            "domain": registry.address, "username": USER, "password": PASSWORD,
        }}).json()["registry"]  # fmt: skip
        again = api.post("/v1/images", json={"repo": image, "host": host})
        assert again.status_code == 202, again.text
        pulled = wait_for(lambda: _image_settled(api, again.json()["uuid"]), 60, what="the pull")
        assert pulled["status"] == "Pulled", pulled["status_reason"]
        assert api.delete(f"/v1/images/{pulled['uuid']}").status_code == 200
        api.delete(f"/v1/registries/{ops['uuid']}")


def _image_settled(api: httpx.Client, ident: str) -> dict[str, Any] | None:
    body: dict[str, Any] = api.get(f"/v1/images/{ident}").json()
    return body if body["status"] in ("Pulled", "Error") else None


def test_openstack_run_with_registry_pulls_the_private_image(
    deployment: Deployment, record: dict[str, Any], image: str, tmp_path: Path
) -> None:
    remove_image(image)
    name = unique_name("osc-priv")
    printed = osc(
        deployment, deployment.alpha, tmp_path,
        "run", "-f", "json", "--name", name, "--registry", "private", image, *SLEEP_FOREVER,
    )  # fmt: skip
    assert printed["registry_id"] == record["uuid"]
    with deployment.client(deployment.alpha) as api:
        try:
            assert wait_settled(api, name)["status"] == "Running"
        finally:
            api.delete(f"/v1/containers/{name}?force=true")


def test_an_image_search_asks_only_the_callers_registries_with_their_login(
    deployment: Deployment, record: dict[str, Any], image: str, registry: Registry
) -> None:
    repository = image.rsplit(":", 1)[0]
    term = repository.rsplit("/", 1)[-1]
    zun = make_client(deployment.server.url, token=deployment.alpha.token)
    found = zun.images.search_image(term)
    assert [(i.name, i.tags) for i in found] == [(repository, ["1"])]
    assert found[0].metadata["registry"] == registry.address  # asked with alpha's login
    with deployment.client(deployment.beta) as api:  # beta has no record of this registry
        bare = api.get(f"/v1/images/{term}/search")
        assert bare.status_code == 200, bare.text
        # The hosts' images are everyone's to find (their records are the operator's); the
        # registry, beta's search did not ask.
        assert [entry["metadata"]["registry"] for entry in bare.json()] in ([], [None])
        named = api.get(f"/v1/images/{repository}/search")
        assert named.status_code == 502, named.text
        assert "HTTP 401" in named.json()["errors"][0]["title"]
        assert PASSWORD not in named.text
