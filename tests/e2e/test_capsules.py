"""Capsules (Zun's pods) on the real engine: init order, shared sandbox and volumes, the clients.

Every capsule a test makes goes through the `capsules` fixture, which deletes it through the
API and then removes whatever the engine still holds for it (containers by label, volumes by
name), so a test that fails midway leaves nothing behind.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx
import pytest
import yaml
from zunclient import exceptions as zunexc
from zunclient.v1.client import Client

from tests.support.capsules import (
    LABEL_CAPSULE,
    LABEL_SANDBOX,
    Capsules,
    engine_volumes,
    template,
    wait_capsule,
)
from tests.support.osc import Osc
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for, wait_status
from tests.support.zun import assert_zun_error, execute_ok, unique_name
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine

LABEL_HOST = "io.dockyard.host"
# A shell loop that exits at once on SIGTERM (see SLEEP_FOREVER), after a first command.
FOREVER = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"


def forever_after(script: str) -> list[str]:
    return ["sh", "-c", f"{script}; {FOREVER}"]


def member(name: str, command: list[str], *mounts: tuple[str, str]) -> dict[str, Any]:
    return {
        "name": name,
        "image": TEST_IMAGE,
        "command": command,
        "volumeMounts": [{"name": v, "mountPath": path} for v, path in mounts],
    }


def engine_members(engine: docker.DockerClient, capsule_uuid: str) -> list[Any]:
    return list(
        engine.containers.list(all=True, filters={"label": f"{LABEL_CAPSULE}={capsule_uuid}"})
    )


def engine_state(engine: docker.DockerClient, container_uuid: str) -> dict[str, Any]:
    state: dict[str, Any] = engine.containers.get(f"dockyard-{container_uuid}").attrs["State"]
    return state


def when(text: str) -> datetime:
    # the engine's RFC 3339 times carry nanoseconds; microseconds are plenty to order them
    head, _, tail = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(tail + '000000')[:6]}+00:00")


# --- 1. a running capsule -----------------------------------------------------------------


@pytest.fixture
def web_capsule(capsules: Capsules) -> dict[str, Any]:
    """An init container writes a page into a volume; `web` serves it, `side` shares the pod."""
    body = template(
        unique_name("cap-web"),
        initContainers=[
            member("fetch", ["sh", "-c", "echo hello-from-init > /data/index.html"],
                   ("www", "/data")),
        ],
        containers=[
            member("web", forever_after("httpd -p 8080 -h /www"), ("www", "/www")),
            member("side", SLEEP_FOREVER),
        ],
        volumes=[{"name": "www"}],
    )  # fmt: skip
    created = capsules.create(body)
    assert created["status"] == "Creating"
    running = wait_capsule(capsules.api, created["uuid"], "Running")
    capsules.remember(running)
    return {"created": created, "running": running}


def test_capsule_goes_from_creating_to_running_with_full_member_views(
    api: httpx.Client, web_capsule: dict[str, Any]
) -> None:
    created, running = web_capsule["created"], web_capsule["running"]
    name = running["name"]
    assert created["uuid"] == running["uuid"]
    assert created["name"] == name
    # all members are placed together, on the host that runs the sandbox
    hosts = {c["host"] for c in [*running["init_containers"], *running["containers"]]}
    assert len(hosts) == 1
    assert None not in hosts
    assert running["status_reason"] is None
    assert running["labels"] == {"test": "capsules"}
    assert running["restart_policy"] == {"Name": "always", "MaximumRetryCount": "0"}
    assert isinstance(running["cpu"], float)
    assert isinstance(running["memory"], str)
    assert [c["name"] for c in running["init_containers"]] == [f"capsule-{name}-fetch"]
    assert [c["name"] for c in running["containers"]] == [
        f"capsule-{name}-web",
        f"capsule-{name}-side",
    ]
    for shown in [*running["init_containers"], *running["containers"]]:
        alone = api.get(f"/v1/containers/{shown['uuid']}")
        assert alone.status_code == 200, alone.text
        assert set(shown) == set(alone.json())  # the full container view, not a summary
        assert shown["image"] == TEST_IMAGE
    assert {c["status"] for c in running["containers"]} == {"Running"}


def test_init_container_of_a_running_capsule_is_stopped_with_exit_0(
    engine: docker.DockerClient, web_capsule: dict[str, Any]
) -> None:
    (init,) = web_capsule["running"]["init_containers"]
    assert init["status"] == "Stopped"
    assert init["status_detail"].startswith("Exited(0)")
    state = engine_state(engine, init["uuid"])
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)


def test_main_container_reads_what_the_init_container_wrote_to_the_shared_volume(
    api: httpx.Client, web_capsule: dict[str, Any]
) -> None:
    web, side = web_capsule["running"]["containers"]
    assert execute_ok(api, web["uuid"], "cat /www/index.html") == "hello-from-init"
    # side has no volume of its own: it reaches web's server over the shared loopback
    page = execute_ok(api, side["uuid"], "wget -q -O - http://127.0.0.1:8080/index.html")
    assert page == "hello-from-init"


def test_capsule_members_share_one_sandbox_ip_hostname_and_shm(
    api: httpx.Client, web_capsule: dict[str, Any]
) -> None:
    running = web_capsule["running"]
    members = [*running["init_containers"], *running["containers"]]
    sandbox_ids = {m["sandbox_id"] for m in members}
    assert len(sandbox_ids) == 1
    assert None not in sandbox_ids
    (sandbox_id,) = sandbox_ids
    sandbox = api.get(f"/v1/sandboxes/{sandbox_id}")
    assert sandbox.status_code == 200, sandbox.text
    assert set(sandbox.json()["containers"]) == {m["uuid"] for m in members}

    web, side = running["containers"]
    ips = [execute_ok(api, c["uuid"], "hostname -i") for c in (web, side)]
    assert ips[0] == ips[1]
    assert ips[0]
    addresses = running["addresses"]
    [(network, entries)] = addresses.items()  # the project's default network, by its uuid
    shown = api.get(f"/network/v2.0/networks/{network}").json()["network"]
    assert (shown["name"], shown["project_id"]) == ("default", running["project_id"])
    assert [a["addr"] for a in entries] == [ips[0]]
    assert web["addresses"] == side["addresses"] == addresses
    hostnames = [execute_ok(api, c["uuid"], "hostname") for c in (web, side)]
    assert hostnames[0] == hostnames[1] == running["name"]  # as a pod's: the capsule's name
    execute_ok(api, web["uuid"], "sh -c 'echo shared > /dev/shm/token'")
    assert execute_ok(api, side["uuid"], "cat /dev/shm/token") == "shared"


def test_legacy_view_below_1_32_has_meta_name_and_member_uuids(
    server: DockyardProcess, web_capsule: dict[str, Any]
) -> None:
    running = web_capsule["running"]
    with server.client("1.31") as old:
        response = old.get(f"/v1/capsules/{running['uuid']}")
        listed = old.get("/v1/capsules").json()["capsules"]
    assert response.status_code == 200, response.text
    assert response.headers["openstack-api-version"] == "container 1.31"
    legacy = response.json()
    assert legacy["meta_name"] == running["name"]
    assert legacy["meta_labels"] == {"test": "capsules"}
    assert legacy["restart_policy"] == "always"
    assert legacy["containers_uuids"] == [c["uuid"] for c in running["containers"]]
    assert legacy["init_containers_uuids"] == [c["uuid"] for c in running["init_containers"]]
    assert legacy["volumes_info"] == {}
    assert legacy["capsule_version"] == ""
    assert "name" not in legacy
    assert "annotations" not in legacy
    (in_list,) = [c for c in listed if c["uuid"] == running["uuid"]]
    assert in_list["meta_name"] == running["name"]
    assert in_list["containers_uuids"] == legacy["containers_uuids"]


# --- 2. init containers run in order ------------------------------------------------------


def test_init_containers_run_one_after_another_before_the_main_container(
    api: httpx.Client, engine: docker.DockerClient, capsules: Capsules
) -> None:
    body = template(
        unique_name("cap-order"),
        initContainers=[
            member("first", ["sh", "-c", "sleep 1; echo 1 > /work/first"], ("work", "/work")),
            # exits non-zero (and fails the capsule) unless the first one has finished
            member("second", ["sh", "-c", "test -f /work/first && echo 2 > /work/second"],
                   ("work", "/work")),
        ],
        containers=[
            member("main",
                   forever_after("test -f /work/first -a -f /work/second && echo ok > /work/seen"),
                   ("work", "/work")),
        ],
        volumes=[{"name": "work"}],
    )  # fmt: skip
    created = capsules.create(body)
    running = wait_capsule(api, created["uuid"], "Running")
    (main,) = running["containers"]
    assert execute_ok(api, main["uuid"], "cat /work/seen") == "ok"

    first, second = (engine_state(engine, c["uuid"]) for c in running["init_containers"])
    started = engine_state(engine, main["uuid"])["StartedAt"]
    assert first["ExitCode"] == second["ExitCode"] == 0
    assert when(first["FinishedAt"]) <= when(second["StartedAt"])
    assert when(second["FinishedAt"]) <= when(started)


def test_capsule_stays_running_when_one_of_its_containers_finishes(
    api: httpx.Client, capsules: Capsules
) -> None:
    body = template(
        unique_name("cap-once"),
        containers=[member("once", ["true"]), member("main", SLEEP_FOREVER)],
        restartPolicy="Never",
    )
    created = capsules.create(body)

    def once_finished() -> dict[str, Any] | None:
        shown: dict[str, Any] = api.get(f"/v1/capsules/{created['uuid']}").json()
        statuses = [c["status"] for c in shown["containers"]]
        return shown if statuses == ["Stopped", "Running"] else None

    shown = wait_for(once_finished, 30, what="one container finished, the other running")
    assert shown["containers"][0]["status_detail"].startswith("Exited(0)")
    assert shown["status"] == "Running"  # as a Kubernetes pod: running while one container runs


# --- 3. a failing init container ----------------------------------------------------------


def test_failing_init_container_puts_capsule_in_error_and_main_never_starts(
    api: httpx.Client, engine: docker.DockerClient, capsules: Capsules
) -> None:
    body = template(
        unique_name("cap-fail"),
        initContainers=[member("broken", ["sh", "-c", "exit 3"])],
        containers=[member("main", SLEEP_FOREVER)],
    )
    created = capsules.create(body)
    failed = wait_capsule(api, created["uuid"], "Error")
    init_name = f"capsule-{created['name']}-broken"
    assert init_name in failed["status_reason"]
    assert "3" in failed["status_reason"]
    (init,) = failed["init_containers"]
    assert init["status"] == "Stopped"
    assert init["status_detail"].startswith("Exited(3)")

    # the agent keeps the main container created but never starts it, not even later
    wait_for(lambda: api.get(f"/v1/capsules/{created['uuid']}").json()["containers"][0]["status"]
             == "Created", 10, what="main container reported Created")  # fmt: skip
    settled = api.get(f"/v1/capsules/{created['uuid']}").json()
    assert settled["status"] == "Error"
    (main,) = settled["containers"]
    assert main["status"] == "Created"
    state = engine_state(engine, main["uuid"])
    assert state["Status"] == "created"
    assert state["StartedAt"].startswith("0001-01-01")


# --- 4. delete ----------------------------------------------------------------------------


def test_delete_removes_capsule_members_sandbox_volumes_and_engine_containers(
    api: httpx.Client, engine: docker.DockerClient, web_capsule: dict[str, Any]
) -> None:
    running = web_capsule["running"]
    capsule_uuid = running["uuid"]
    members = [*running["init_containers"], *running["containers"]]
    sandbox_id = members[0]["sandbox_id"]
    assert engine_volumes(engine, capsule_uuid) == [f"dockyard-{capsule_uuid}-www"]
    assert len(engine_members(engine, capsule_uuid)) == 3

    response = api.delete(f"/v1/capsules/{capsule_uuid}")
    assert response.status_code == 204, response.text
    assert response.content == b""
    wait_for(lambda: api.get(f"/v1/capsules/{capsule_uuid}").status_code == 404, 30,
             what="capsule gone")  # fmt: skip
    assert_zun_error(api.get(f"/v1/capsules/{capsule_uuid}"), 404)
    for m in members:
        assert api.get(f"/v1/containers/{m['uuid']}").status_code == 404
    wait_for(lambda: api.get(f"/v1/sandboxes/{sandbox_id}").status_code == 404, 30,
             what="sandbox gone")  # fmt: skip
    assert capsule_uuid not in {c["uuid"] for c in api.get("/v1/capsules").json()["capsules"]}
    wait_for(lambda: not engine_volumes(engine, capsule_uuid), 15, what="volumes removed")
    assert engine_members(engine, capsule_uuid) == []
    sandbox_filters: tuple[dict[str, Any], ...] = (
        {"label": f"{LABEL_SANDBOX}={sandbox_id}"},
        {"name": f"dockyard-sandbox-{sandbox_id}"},
    )
    for found_by in sandbox_filters:
        assert engine.containers.list(all=True, filters=found_by) == []  # the pause container


# --- 5. the real clients ------------------------------------------------------------------


def test_openstack_capsule_create_list_show_delete_from_a_yaml_file(
    server: DockyardProcess, api: httpx.Client, capsules: Capsules, tmp_path: Path
) -> None:
    osc = Osc(server.url, tmp_path, group="capsule")
    name = unique_name("cap-osc")
    body = template(name, containers=[member("main", SLEEP_FOREVER)])
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))

    created = json.loads(osc("create", "--file", str(path), "-f", "json"))
    capsules.remember(created)
    assert created["name"] == name
    assert created["status"] == "Creating"
    assert [c["name"] for c in created["containers"]] == [f"capsule-{name}-main"]
    wait_capsule(api, created["uuid"], "Running")

    rows = {row["uuid"]: row for row in json.loads(osc("list", "-f", "json"))}
    row = rows[created["uuid"]]
    assert set(row) == {"uuid", "name", "status", "addresses"}
    assert (row["name"], row["status"]) == (name, "Running")
    assert row["addresses"]  # "172.17.0.5": the client flattens the addresses
    shown = json.loads(osc("show", name, "-f", "json"))
    assert (shown["uuid"], shown["status"]) == (created["uuid"], "Running")
    assert shown["addresses"] == row["addresses"]
    assert osc("delete", name) == f"Request to delete capsule {name} has been accepted.\n"
    wait_for(lambda: api.get(f"/v1/capsules/{created['uuid']}").status_code == 404, 30,
             what="capsule gone")  # fmt: skip


def test_zunclient_creates_lists_gets_and_deletes_a_capsule(
    server: DockyardProcess, api: httpx.Client, capsules: Capsules
) -> None:
    zun: Client = make_client(server.url, "1.40")
    name = unique_name("cap-zc")
    body = template(name, containers=[member("main", SLEEP_FOREVER)])
    created = zun.capsules.create(template=body)
    capsules.remember(created._info)
    assert (created.name, created.status) == (name, "Creating")
    wait_capsule(api, created.uuid, "Running")

    assert created.uuid in {c.uuid for c in zun.capsules.list()}
    fetched = zun.capsules.get(name)
    assert (fetched.uuid, fetched.status) == (created.uuid, "Running")
    assert [c["name"] for c in fetched.containers] == [f"capsule-{name}-main"]
    assert fetched.init_containers == []
    zun.capsules.delete(created.uuid)

    def gone() -> bool:
        try:
            zun.capsules.get(created.uuid)
        except zunexc.NotFound:
            return True
        return False

    wait_for(gone, 30, what="capsule gone")


# --- 6. bad templates ---------------------------------------------------------------------

VALID_MEMBER = {"name": "main", "image": TEST_IMAGE, "command": SLEEP_FOREVER}


def _bad(**spec: Any) -> dict[str, Any]:
    return {"kind": "capsule", "metadata": {"name": "placeholder"},
            "spec": {"containers": [VALID_MEMBER], **spec}}  # fmt: skip


BAD_BODIES: dict[str, tuple[Any, str, str]] = {
    # id: (body, error code, words the detail must contain)
    "missing-image": (
        {"template": _bad(containers=[{"name": "main", "command": ["true"]}])},
        "container.schema-validation-error", "image",
    ),
    "duplicate-container-names": (
        {"template": _bad(containers=[VALID_MEMBER, VALID_MEMBER])},
        "container.invalid-value", "duplicate",
    ),
    "unknown-volume-in-mount": (
        {"template": _bad(containers=[
            {**VALID_MEMBER, "volumeMounts": [{"name": "nowhere", "mountPath": "/x"}]}])},
        "container.invalid-value", "nowhere",
    ),
    "wrong-kind": (
        {"template": {**_bad(), "kind": "Pod"}}, "container.schema-validation-error", "kind",
    ),
    "cinder-volume": (
        {"template": _bad(
            containers=[{**VALID_MEMBER, "volumeMounts": [{"name": "db", "mountPath": "/db"}]}],
            volumes=[{"name": "db", "cinder": {"size": 1, "volumeID": "db"}}])},
        "container.invalid-value", "cinder: give volumeID",
    ),
    # capsule-<capsule>-<member> names the member's container: 8 + 200 + 1 + 60 > 255
    "container-name-too-long": (
        {"template": {**_bad(containers=[{**VALID_MEMBER, "name": "m" * 60}]),
                      "metadata": {"name": "c" * 200}}},
        "container.invalid-value", "255",
    ),
    "body-without-template": (
        {"capsule": _bad()}, "container.invalid-value", "template",
    ),
    "template-as-invalid-json-string": (
        {"template": '{"kind": "capsule", "metadata": '},
        "container.schema-validation-error", "JSON",
    ),
}  # fmt: skip


def _footprint(api: httpx.Client, engine: docker.DockerClient, host: str) -> dict[str, Any]:
    """What a half-made capsule would leave: rows behind the API, objects in the engine."""
    on_host: dict[str, Any] = {"label": f"{LABEL_HOST}={host}"}
    return {
        "capsules": len(api.get("/v1/capsules").json()["capsules"]),
        "containers": len(api.get("/v1/containers").json()["containers"]),
        "sandboxes": len(api.get("/v1/sandboxes").json()["sandboxes"]),
        "engine": sorted(
            str(c.name) for c in engine.containers.list(all=True, filters=on_host)
            if not str(c.name).startswith("dockyard-pool-")  # the warm pool refills on its own
        ),
        "volumes": sorted(v.name for v in engine.volumes.list(filters=on_host)),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_capsule_request_is_a_zun_400_that_leaves_nothing_behind(
    server: DockyardProcess, api: httpx.Client, engine: docker.DockerClient, case: str
) -> None:
    body, code, words = copy.deepcopy(BAD_BODIES[case])
    if isinstance(body.get("template"), dict):
        metadata = body["template"]["metadata"]
        if metadata["name"] == "placeholder":
            metadata["name"] = unique_name("cap-bad")
        metadata["labels"] = {"case": case}
    assert server.host_uuid
    before = _footprint(api, engine, server.host_uuid)
    error = assert_zun_error(api.post("/v1/capsules", json=body), 400, code)
    assert words.lower() in error["detail"].lower(), error
    assert _footprint(api, engine, server.host_uuid) == before
    assert engine.containers.list(all=True, filters={"label": f"case={case}"}) == []


def test_template_as_a_json_string_is_accepted(api: httpx.Client, capsules: Capsules) -> None:
    name = unique_name("cap-str")
    body = template(name, containers=[member("main", SLEEP_FOREVER)])
    response = api.post("/v1/capsules", json={"template": json.dumps(body)})
    assert response.status_code == 202, response.text
    capsules.remember(response.json())
    assert response.json()["name"] == name


def test_second_capsule_with_a_taken_name_is_a_conflict(
    api: httpx.Client, capsules: Capsules
) -> None:
    name = unique_name("cap-dup")
    capsules.create(template(name, containers=[member("main", SLEEP_FOREVER)]))
    before = len(api.get("/v1/capsules").json()["capsules"])
    again = api.post(
        "/v1/capsules", json={"template": template(name, containers=[member("other", ["true"])])}
    )
    assert_zun_error(again, 409)
    assert len(api.get("/v1/capsules").json()["capsules"]) == before


def test_capsule_whose_member_name_is_taken_is_a_conflict_that_leaves_nothing(
    server: DockyardProcess, api: httpx.Client, engine: docker.DockerClient
) -> None:
    name = unique_name("cap-taken")
    body = {"name": f"capsule-{name}-main", "image": TEST_IMAGE, "command": SLEEP_FOREVER}
    squatter = api.post("/v1/containers", json=body)
    assert squatter.status_code == 202, squatter.text
    try:
        wait_status(api, squatter.json()["uuid"], "Created")
        assert server.host_uuid
        before = _footprint(api, engine, server.host_uuid)
        response = api.post(
            "/v1/capsules", json={"template": template(name, containers=[VALID_MEMBER])}
        )
        error = assert_zun_error(response, 409)
        assert f"capsule-{name}-main" in error["detail"]
        assert _footprint(api, engine, server.host_uuid) == before  # no capsule, no sandbox
    finally:
        api.delete(f"/v1/containers/{squatter.json()['uuid']}?force=true")


def test_capsule_in_an_unknown_availability_zone_is_error_and_deletes_at_once(
    api: httpx.Client, capsules: Capsules
) -> None:
    body = template(unique_name("cap-az"), containers=[member("main", SLEEP_FOREVER)])
    created = capsules.create({**body, "availabilityZone": "nowhere"})
    (main,) = created["containers"]
    assert main["host"] is None  # accepted; the scheduler finds no host in that zone
    failed = wait_for(
        lambda: (
            (shown := api.get(f"/v1/capsules/{created['uuid']}").json())["status"] == "Error"
            and shown
        ),
        what="the capsule to be Error",
    )  # as in Zun: no waiting for a host once the scheduler has looked
    assert "There are not enough hosts available." in failed["status_reason"]
    assert [c["host"] for c in failed["containers"]] == [None]
    assert api.delete(f"/v1/capsules/{created['uuid']}").status_code == 204
    assert_zun_error(api.get(f"/v1/capsules/{created['uuid']}"), 404)
    assert api.get(f"/v1/sandboxes/{main['sandbox_id']}").status_code == 404


def test_show_and_delete_of_an_unknown_capsule_are_not_found(api: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    assert_zun_error(api.get(f"/v1/capsules/{missing}"), 404)
    assert_zun_error(api.delete(f"/v1/capsules/{missing}"), 404)
