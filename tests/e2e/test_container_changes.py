"""Changes to a container's spec through the real clients, seen in the engine: `update`
(PATCH, `appcontainer set`) and `resize_container` (1.19) change a running container's
limits in place; over quota or in a bad state they change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import docker
import httpx
import pytest
from zunclient.v1.client import Client

from tests.support.osc import Osc
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_for, wait_status
from tests.support.zun import (
    assert_zun_error,
    execute_ok,
    remove_container,
    run_container,
    unique_name,
)

pytestmark = pytest.mark.engine
V = {"OpenStack-API-Version": "container 1.40"}
MIB = 1024 * 1024
PERIOD = 100_000


@pytest.fixture
def box(http: httpx.Client) -> Iterator[dict[str, Any]]:
    container = run_container(http, "changes", cpu=0.5, memory=128)
    yield container
    remove_container(http, container["uuid"])


def host_config(api: docker.APIClient, uuid: str) -> dict[str, Any]:
    (found,) = api.containers(all=True, filters={"label": f"io.dockyard.container={uuid}"})
    config: dict[str, Any] = api.inspect_container(found["Id"])["HostConfig"]
    return config


def wait_limits(api: docker.APIClient, uuid: str, cpu: float, memory_mib: int) -> None:
    def applied() -> bool:
        config = host_config(api, uuid)
        return bool(
            config["Memory"] == memory_mib * MIB and config["CpuQuota"] == int(cpu * PERIOD)
        )

    wait_for(applied, 30, what=f"cpu={cpu} memory={memory_mib} in the engine")


def test_update_of_a_running_container_changes_the_engine_limits_in_place(
    zun: Client, osc: Osc, http: httpx.Client, engine: docker.DockerClient, box: dict[str, Any]
) -> None:
    api = engine.api
    wait_limits(api, box["uuid"], 0.5, 128)
    started = api.inspect_container(_engine_id(api, box["uuid"]))["State"]["StartedAt"]
    zun.containers.update(box["uuid"], cpu=0.25, memory=256)
    wait_limits(api, box["uuid"], 0.25, 256)
    osc("set", "--cpu", "0.75", "--memory", "192", box["name"])
    wait_limits(api, box["uuid"], 0.75, 192)
    shown = http.get(f"/v1/containers/{box['uuid']}", headers=V).json()
    assert (shown["status"], shown["cpu"], shown["memory"]) == ("Running", 0.75, "192")
    same = api.inspect_container(_engine_id(api, box["uuid"]))["State"]["StartedAt"]
    assert same == started  # in place: not restarted, not recreated


def _engine_id(api: docker.APIClient, uuid: str) -> str:
    (found,) = api.containers(all=True, filters={"label": f"io.dockyard.container={uuid}"})
    return str(found["Id"])


def test_resize_container_from_1_19_changes_the_limits_and_answers_the_container(
    http: httpx.Client, engine: docker.DockerClient, box: dict[str, Any]
) -> None:
    api = engine.api
    url = f"/v1/containers/{box['uuid']}/resize_container"
    old = http.post(url, json={"memory": "96"}, headers={"OpenStack-API-Version": "container 1.18"})
    assert_zun_error(old, 406)
    reply = http.post(url, json={"cpu": 0.3, "memory": "96"}, headers=V)
    assert reply.status_code == 202, reply.text
    assert (reply.json()["uuid"], reply.json()["cpu"], reply.json()["memory"]) == (
        box["uuid"], 0.3, "96",
    )  # fmt: skip
    wait_limits(api, box["uuid"], 0.3, 96)
    actions = http.get(f"/v1/containers/{box['uuid']}/container_actions", headers=V).json()
    newest = actions["containerActions"][0]  # recorded as Zun does: an update
    assert (newest["action"], newest["request_id"], newest["message"]) == (
        "update", reply.headers["x-openstack-request-id"], None,
    )  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [{}, {"memory": "lots"}, {"cpu": 1000}, {"memory": "96", "name": "no"}, {"cpu": -1}],
)
def test_bad_resize_is_a_bad_request_that_changes_nothing(
    http: httpx.Client, engine: docker.DockerClient, box: dict[str, Any], body: dict[str, Any]
) -> None:
    api = engine.api
    reply = http.post(f"/v1/containers/{box['uuid']}/resize_container", json=body, headers=V)
    assert_zun_error(reply, 400)
    shown = http.get(f"/v1/containers/{box['uuid']}", headers=V).json()
    assert (shown["cpu"], shown["memory"]) == (0.5, "128")
    wait_limits(api, box["uuid"], 0.5, 128)


def test_resize_over_the_projects_memory_quota_is_refused_and_changes_nothing(
    http: httpx.Client, engine: docker.DockerClient, box: dict[str, Any]
) -> None:
    api = engine.api
    project = box["project_id"]
    usage = http.get(f"/v1/quotas/{project}", params={"usages": "true"}, headers=V).json()
    limit = int(usage["memory"]["in_use"]) + 64
    assert http.put(f"/v1/quotas/{project}", json={"memory": limit}, headers=V).status_code == 200
    try:
        url = f"/v1/containers/{box['uuid']}/resize_container"
        refused = http.post(url, json={"memory": str(128 + 65)}, headers=V)
        assert_zun_error(refused, 403, "container.over-quota")
        patched = http.patch(f"/v1/containers/{box['uuid']}", json={"memory": 500}, headers=V)
        assert_zun_error(patched, 403, "container.over-quota")
        fits = http.post(url, json={"memory": str(128 + 64)}, headers=V)
        assert fits.status_code == 202, fits.text
        wait_limits(api, box["uuid"], 0.5, 192)
    finally:
        http.delete(f"/v1/quotas/{project}", headers=V)
    shown = http.get(f"/v1/containers/{box['uuid']}", headers=V).json()
    assert shown["memory"] == "192"


def test_openstack_rebuild_remakes_the_container_under_the_same_uuid_and_name(
    osc: Osc, http: httpx.Client, engine: docker.DockerClient, box: dict[str, Any]
) -> None:
    api = engine.api
    before = _engine_id(api, box["uuid"])
    execute_ok(http, box["uuid"], "sh -c 'echo old > /root/old'")
    printed = osc("rebuild", "--wait", box["name"])
    assert f"rebuild container {box['name']} success" in printed, printed
    after = wait_status(http, box["uuid"], "Running")
    assert (after["uuid"], after["name"], after["image"]) == (box["uuid"], box["name"], TEST_IMAGE)
    assert after["addresses"], after
    assert _engine_id(api, box["uuid"]) != before
    gone = http.post(
        f"/v1/containers/{box['uuid']}/execute", params={"command": "cat /root/old", "run": True}
    ).json()
    assert gone["exit_code"] != 0, gone  # a new container: the old one's files are gone
    wait_limits(api, box["uuid"], 0.5, 128)  # the spec's limits carried over
    actions = http.get(f"/v1/containers/{box['uuid']}/container_actions", headers=V).json()
    rebuilt = [a for a in actions["containerActions"] if a["action"] == "rebuild"]
    assert len(rebuilt) == 1, rebuilt
    assert rebuilt[0]["message"] is None, rebuilt


def test_rebuild_with_a_new_image_keeps_a_stopped_container_stopped(
    zun: Client, http: httpx.Client, engine: docker.DockerClient, box: dict[str, Any]
) -> None:
    repository = f"dockyard-test/rebuild-{unique_name('img')}"
    execute_ok(http, box["uuid"], "sh -c 'echo from the new image > /root/mark'")
    image = zun.containers.commit(box["uuid"], repository, tag="v1")
    try:
        zun.containers.stop(box["uuid"], timeout=5)
        wait_status(http, box["uuid"], "Stopped")
        zun.containers.rebuild(box["uuid"], image=f"{repository}:v1")
        rebuilt = wait_status(http, box["uuid"], "Created")
        assert (rebuilt["name"], rebuilt["image"]) == (box["name"], f"{repository}:v1")
        zun.containers.start(box["uuid"])
        wait_status(http, box["uuid"], "Running")
        assert execute_ok(http, box["uuid"], "cat /root/mark") == "from the new image"
    finally:
        remove_container(http, box["uuid"])  # before its image can go
        http.delete(f"/v1/images/{image['uuid']}", headers=V)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"image": "Not A Valid Image"}, 400),
        ({"image_driver": "glance"}, 400),
        ({"colour": "red"}, 400),
    ],
)
def test_bad_rebuild_is_refused_and_changes_nothing(
    http: httpx.Client, engine: docker.DockerClient, box: dict[str, Any],
    params: dict[str, str], status: int,
) -> None:  # fmt: skip
    before = _engine_id(engine.api, box["uuid"])
    refused = http.post(f"/v1/containers/{box['uuid']}/rebuild", params=params, headers=V)
    assert_zun_error(refused, status)
    shown = http.get(f"/v1/containers/{box['uuid']}", headers=V).json()
    assert (shown["status"], shown["image"]) == ("Running", TEST_IMAGE)
    assert _engine_id(engine.api, box["uuid"]) == before


def test_rebuild_of_a_paused_container_is_a_conflict(
    zun: Client, http: httpx.Client, box: dict[str, Any]
) -> None:
    zun.containers.pause(box["uuid"])
    wait_status(http, box["uuid"], "Paused")
    refused = http.post(f"/v1/containers/{box['uuid']}/rebuild", headers=V)
    error = assert_zun_error(refused, 409, "container.invalid-state-exception")
    assert "rebuild" in error["detail"]
    zun.containers.unpause(box["uuid"])
    wait_status(http, box["uuid"], "Running")
