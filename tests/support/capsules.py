"""Capsules made over HTTP in the end-to-end tests: templates, waits, and a record of what was
made so that the engine objects go even when a test fails half way."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import docker
import docker.errors
import httpx
import pytest

from tests.support.wait import wait_for

LABEL_CAPSULE = "io.dockyard.capsule"
LABEL_SANDBOX = "io.dockyard.sandbox"


def template(name: str, *, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "kind": "capsule",
        "metadata": {"name": name, "labels": {"test": "capsules"}},
        "spec": {"containers": containers, **spec},
    }


def wait_capsule(api: httpx.Client, ident: str, status: str, timeout: float = 30) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/capsules/{ident}").json()
        return body if body.get("status") == status else None

    result: dict[str, Any] = wait_for(check, timeout, what=f"capsule {ident} to be {status}")
    return result


def engine_volumes(engine: docker.DockerClient, capsule_uuid: str) -> list[str]:
    prefix = f"dockyard-{capsule_uuid}-"
    return [v.name for v in engine.volumes.list() if v.name.startswith(prefix)]


class Capsules:
    """Creates capsules over HTTP and remembers them for the clean-up."""

    def __init__(self, api: httpx.Client, engine: docker.DockerClient) -> None:
        self.api = api
        self.engine = engine
        self.made: dict[str, str | None] = {}  # capsule uuid → sandbox id

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post("/v1/capsules", json={"template": body})
        assert response.status_code == 202, response.text
        created: dict[str, Any] = response.json()
        self.remember(created)
        assert response.headers["location"].endswith(f"/v1/capsules/{created['uuid']}")
        return created

    def remember(self, capsule: dict[str, Any]) -> None:
        members = [*capsule.get("containers", []), *capsule.get("init_containers", [])]
        self.made[capsule["uuid"]] = next((m["sandbox_id"] for m in members), None)

    def is_gone(self, capsule_uuid: str) -> bool:
        return self.api.get(f"/v1/capsules/{capsule_uuid}").status_code == 404

    def clean_up(self) -> None:
        for capsule_uuid in self.made:
            self.api.delete(f"/v1/capsules/{capsule_uuid}")
        for capsule_uuid in self.made:
            with contextlib.suppress(pytest.fail.Exception):  # what is left is removed below
                wait_for(functools.partial(self.is_gone, capsule_uuid), 20, what="deleted")
        for capsule_uuid, sandbox_id in self.made.items():
            found_by: list[dict[str, Any]] = [{"label": f"{LABEL_CAPSULE}={capsule_uuid}"}]
            if sandbox_id:  # the pause container: made for it, or taken from the pool
                found_by += [{"label": f"{LABEL_SANDBOX}={sandbox_id}"},
                             {"name": f"dockyard-sandbox-{sandbox_id}"}]  # fmt: skip
            for filters in found_by:
                for container in self.engine.containers.list(all=True, filters=filters):
                    with contextlib.suppress(docker.errors.NotFound):
                        container.remove(force=True)
            for volume in engine_volumes(self.engine, capsule_uuid):
                with contextlib.suppress(docker.errors.NotFound):
                    self.engine.volumes.get(volume).remove(force=True)
