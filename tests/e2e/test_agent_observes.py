"""The agent notices what changes behind its back in the engine, within seconds."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import docker
import httpx
import pytest
from docker.models.containers import Container

from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_for, wait_gone, wait_status

LABEL_CONTAINER = "io.dockyard.container"


@pytest.fixture
def running(api: httpx.Client, test_image: str) -> Iterator[dict[str, object]]:
    name = f"observed-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "image": test_image, "command": SLEEP_FOREVER}
    created = api.post("/v1/containers?run=true", json=body)
    assert created.status_code == 202, created.text
    yield wait_status(api, name, "Running")
    api.delete(f"/v1/containers/{name}?force=true")


def engine_container(engine: docker.DockerClient, container_uuid: str) -> Container:
    (found,) = engine.containers.list(
        all=True, filters={"label": f"{LABEL_CONTAINER}={container_uuid}"}
    )
    return found


def test_container_stopped_by_hand_becomes_stopped(
    api: httpx.Client, engine: docker.DockerClient, running: dict[str, object]
) -> None:
    engine_container(engine, str(running["uuid"])).stop(timeout=0)
    stopped = wait_status(api, str(running["uuid"]), "Stopped", timeout=10)
    assert stopped["status_detail"].startswith("Exited(")


def test_container_paused_by_hand_becomes_paused_and_unpaused(
    api: httpx.Client, engine: docker.DockerClient, running: dict[str, object]
) -> None:
    container = engine_container(engine, str(running["uuid"]))
    container.pause()
    wait_status(api, str(running["uuid"]), "Paused", timeout=10)
    container.unpause()
    wait_status(api, str(running["uuid"]), "Running", timeout=10)


def test_container_removed_by_hand_becomes_error_and_can_be_deleted(
    api: httpx.Client, engine: docker.DockerClient, running: dict[str, object]
) -> None:
    ident = str(running["uuid"])
    engine_container(engine, ident).remove(force=True)
    failed = wait_status(api, ident, "Error", timeout=10)
    assert "outside Dockyard" in str(failed["status_reason"])
    assert api.delete(f"/v1/containers/{ident}").status_code == 204
    wait_gone(api, ident)


def test_container_that_exits_by_itself_is_stopped_with_its_exit_code(
    api: httpx.Client, test_image: str
) -> None:
    name = f"exits-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "image": test_image, "command": ["sh", "-c", "exit 3"]}
    assert api.post("/v1/containers?run=true", json=body).status_code == 202
    stopped = wait_status(api, name, "Stopped", timeout=20)
    assert stopped["status_detail"].startswith("Exited(3)")
    assert api.delete(f"/v1/containers/{name}").status_code == 204


def test_auto_remove_container_disappears_when_it_exits(api: httpx.Client, test_image: str) -> None:
    name = f"autorm-{uuid.uuid4().hex[:8]}"
    body = {
        "name": name,
        "image": test_image,
        "command": ["sh", "-c", "sleep 1"],
        "auto_remove": True,
    }
    assert api.post("/v1/containers?run=true", json=body).status_code == 202
    wait_gone(api, name, timeout=20)


def test_restart_of_serve_keeps_running_containers_without_duplicates(
    server: DockyardProcess,
    api: httpx.Client,
    engine: docker.DockerClient,
    running: dict[str, object],
) -> None:
    ident = str(running["uuid"])
    before = engine_container(engine, ident).id
    server.stop()
    server.start()
    wait_for(lambda: api.get(f"/v1/containers/{ident}").status_code == 200, what="API back")
    assert wait_status(api, ident, "Running")["uuid"] == ident
    assert engine_container(engine, ident).id == before


def test_get_with_wait_status_answers_when_the_status_arrives(
    api: httpx.Client, test_image: str
) -> None:
    name = f"watched-{uuid.uuid4().hex[:8]}"
    body = {"name": name, "image": test_image, "command": SLEEP_FOREVER}
    assert api.post("/v1/containers?run=true", json=body).status_code == 202
    try:
        params: dict[str, str | int] = {"wait_status": "Running,Error", "wait_timeout": 30}
        shown = api.get(f"/v1/containers/{name}", params=params).json()
        assert shown["status"] == "Running"
        params = {"wait_status": "Paused", "wait_timeout": 1}
        unchanged = api.get(f"/v1/containers/{name}", params=params)
        assert unchanged.status_code == 200
        assert unchanged.json()["status"] == "Running"
        bad = api.get(f"/v1/containers/{name}", params={"wait_status": "Sleeping"})
        assert bad.status_code == 400
    finally:
        api.delete(f"/v1/containers/{name}?force=true")
