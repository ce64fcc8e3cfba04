"""Sandboxes on the real engine: shared namespaces, the extension API, the warm pool."""

from __future__ import annotations

import uuid
from typing import Any

import docker
import httpx

from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_for, wait_gone, wait_status
from tests.support.zun import execute_ok

LABEL_HOST = "io.dockyard.host"
LABEL_POOL = "io.dockyard.pool"
LABEL_SANDBOX = "io.dockyard.sandbox"


def run(api: httpx.Client, image: str, **extra: Any) -> dict[str, Any]:
    name = f"sbx-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "image": image, "command": SLEEP_FOREVER, **extra}
    response = api.post("/v1/containers?run=true", json=body)
    assert response.status_code == 202, response.text
    return wait_status(api, name, "Running")


def test_containers_of_one_sandbox_share_ip_hostname_and_ipc(
    api: httpx.Client, test_image: str
) -> None:
    first = run(api, test_image)
    assert first["sandbox_id"]
    second = run(api, test_image, sandbox=first["sandbox_id"])
    try:
        assert second["sandbox_id"] == first["sandbox_id"]
        ips = [execute_ok(api, c["uuid"], "hostname -i") for c in (first, second)]
        assert ips[0] == ips[1]
        assert ips[0]
        assert first["addresses"] == second["addresses"]
        names = [execute_ok(api, c["uuid"], "hostname") for c in (first, second)]
        assert names[0] == names[1]
        execute_ok(api, first["uuid"], "sh -c 'echo shared > /dev/shm/token'")
        assert execute_ok(api, second["uuid"], "cat /dev/shm/token") == "shared"
        sandbox = api.get(f"/v1/sandboxes/{first['sandbox_id']}").json()
        assert sorted(sandbox["containers"]) == sorted([first["uuid"], second["uuid"]])
        assert sandbox["status"] == "Running"
    finally:
        for c in (first, second):
            api.delete(f"/v1/containers/{c['uuid']}?force=true")


def test_sandbox_made_for_a_container_goes_away_with_its_last_container(
    api: httpx.Client, engine: docker.DockerClient, test_image: str
) -> None:
    container = run(api, test_image)
    sandbox_id = container["sandbox_id"]
    assert api.delete(f"/v1/containers/{container['uuid']}?stop=true").status_code == 204
    wait_gone(api, container["uuid"])
    wait_for(lambda: api.get(f"/v1/sandboxes/{sandbox_id}").status_code == 404, what="sandbox gone")
    remaining = engine.containers.list(all=True, filters={"label": f"{LABEL_SANDBOX}={sandbox_id}"})
    named = engine.containers.list(all=True, filters={"name": f"dockyard-sandbox-{sandbox_id}"})
    assert remaining == []
    assert named == []


def test_standalone_container_has_its_own_network(api: httpx.Client, test_image: str) -> None:
    container = run(api, test_image, sandbox_mode="standalone")
    try:
        assert container["sandbox_id"] is None
        assert execute_ok(api, container["uuid"], "hostname -i")
    finally:
        api.delete(f"/v1/containers/{container['uuid']}?force=true")


def test_joining_another_projects_or_unknown_sandbox_is_not_found(
    api: httpx.Client, test_image: str
) -> None:
    body = {
        "name": f"sbx-{uuid.uuid4().hex[:8]}",
        "image": test_image,
        "sandbox": str(uuid.uuid4()),
    }
    response = api.post("/v1/containers", json=body)
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "container.sandbox-not-found"


def test_warm_pool_is_refilled_after_a_sandbox_is_claimed(
    server: DockyardProcess, api: httpx.Client, engine: docker.DockerClient, test_image: str
) -> None:
    filters: dict[str, Any] = {"label": [f"{LABEL_HOST}={server.host_uuid}", f"{LABEL_POOL}=1"]}

    def free_pool() -> list[str]:
        return [str(c.name) for c in engine.containers.list(filters=filters)
                if str(c.name).startswith("dockyard-pool-")]  # fmt: skip

    # The pool adapts to demand (earlier tests may have grown it): at least its floor of 2.
    before = wait_for(lambda: len(free_pool()) >= 2 and free_pool(), what="a full pool")
    container = run(api, test_image)
    try:
        claimed = engine.containers.list(
            all=True, filters={"name": f"dockyard-sandbox-{container['sandbox_id']}"}
        )
        assert claimed, "not served from the pool"
        assert claimed[0].labels.get(LABEL_POOL) == "1", "not served from the pool"

        def refilled() -> list[str]:
            free = free_pool()
            return free if len(free) >= 2 and set(free) - set(before) else []

        after = wait_for(refilled, what="pool refilled with a new sandbox")
        assert claimed[0].name not in after
    finally:
        api.delete(f"/v1/containers/{container['uuid']}?force=true")


def test_share_pid_lets_members_see_each_others_processes(
    api: httpx.Client, test_image: str
) -> None:
    first = run(api, test_image, share_pid=True)
    second = run(api, test_image, sandbox=first["sandbox_id"])
    apart = run(api, test_image)
    apart_too = run(api, test_image, sandbox=apart["sandbox_id"])
    try:
        processes = execute_ok(api, second["uuid"], "ps -o pid,args")
        assert processes.count("trap 'exit 0' TERM") >= 2, processes
        isolated = execute_ok(api, apart_too["uuid"], "ps -o pid,args")
        assert isolated.count("trap 'exit 0' TERM") == 1, isolated
    finally:
        for c in (first, second, apart, apart_too):
            api.delete(f"/v1/containers/{c['uuid']}?force=true")
