"""What the many-host tests share: create containers, see where they run, read host use."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.multihost import Bed, Host
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for

NO_HOST = "There are not enough hosts available."


def run(api: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    """POST a container with run=true (small by default, so many fit); return the 202 body."""
    body = {"name": name, "image": TEST_IMAGE, "command": SLEEP_FOREVER, "cpu": 0.1, **fields}
    response = api.post("/v1/containers?run=true", json=body)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def wait_settled(api: httpx.Client, uuid: str, timeout: float = 60.0) -> dict[str, Any]:
    """The container once it is Running or Error (the two ends of a create)."""

    def settled() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/containers/{uuid}").json()
        return body if body["status"] in ("Running", "Error") else None

    result: dict[str, Any] = wait_for(settled, timeout, what=f"{uuid} to run or fail")
    return result


def engine_holders(bed: Bed, uuid: str) -> list[str]:
    """Names of the bed's hosts whose engine has a container for this Dockyard uuid."""
    holders = []
    for host in bed.hosts:
        if host.dockerd is None or host.dockerd.poll() is not None:
            continue
        client = host.engine_client()
        try:
            found = client.containers.list(
                all=True, filters={"label": f"io.dockyard.container={uuid}"}
            )
        finally:
            client.close()
        holders += [host.name] * len(found)
    return holders


def engine_ids(host: Host, uuid: str) -> list[str]:
    client = host.engine_client()
    try:
        found = client.containers.list(all=True, filters={"label": f"io.dockyard.container={uuid}"})
        return sorted(str(c.id) for c in found)
    finally:
        client.close()


def engine_state(host: Host, uuid: str) -> str | None:
    client = host.engine_client()
    try:
        found = client.containers.list(all=True, filters={"label": f"io.dockyard.container={uuid}"})
        return str(found[0].status) if found else None
    finally:
        client.close()


def host_of(bed: Bed, name: str) -> Host:
    return next(h for h in bed.hosts if h.name == name)
