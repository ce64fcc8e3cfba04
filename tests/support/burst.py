"""A burst of container creates from several threads, recording every 202 (crash tests)."""

from __future__ import annotations

import threading
from collections import Counter

import docker
import httpx

from tests.support.server import V140
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_for

LABEL_CONTAINER = "io.dockyard.container"
LABEL_HOST = "io.dockyard.host"

BURST = 20


def burst_of_creates(
    url: str, image: str, accepted: list[str], halfway: threading.Event, prefix: str = "crash"
) -> None:
    """Create BURST containers from 4 threads; record the uuid of every 202 in `accepted`
    and set `halfway` once half of them were accepted."""
    names = iter(f"{prefix}-{i}" for i in range(BURST))
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=url, headers=V140, timeout=10) as api:
            while True:
                with lock:
                    name = next(names, None)
                if name is None:
                    return
                body = {"name": name, "image": image, "command": SLEEP_FOREVER}
                try:
                    response = api.post("/v1/containers?run=true", json=body)
                except httpx.HTTPError:
                    continue  # the server died under this request: not accepted
                if response.status_code == 202:
                    with lock:
                        accepted.append(response.json()["uuid"])
                        if len(accepted) >= BURST // 2:
                            halfway.set()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def assert_each_accepted_runs_once(
    api: httpx.Client, host_uuid: str, engine: docker.DockerClient, accepted: list[str],
    timeout: float = 90,
) -> list[dict[str, object]]:  # fmt: skip
    """Every 202 of the burst ends Running with exactly one engine container, and no engine
    container is left without a row; returns the container rows."""
    assert len(accepted) >= BURST // 2

    def all_running() -> list[dict[str, object]] | None:
        rows = api.get("/v1/containers").json()["containers"]
        return rows if rows and all(r["status"] == "Running" for r in rows) else None

    rows: list[dict[str, object]] = wait_for(
        all_running, timeout=timeout, what="every container to be Running"
    )
    uuids = {str(r["uuid"]) for r in rows}
    assert set(accepted) <= uuids, "a container that got a 202 was lost"
    labelled = engine.containers.list(
        all=True, filters={"label": [f"{LABEL_HOST}={host_uuid}", "io.dockyard.kind=container"]}
    )
    per_uuid = Counter(c.labels[LABEL_CONTAINER] for c in labelled)
    assert all(per_uuid[u] == 1 for u in uuids), f"not one engine container each: {per_uuid}"
    assert set(per_uuid) == uuids, "an engine container was left without a row"
    assert all(c.status == "running" for c in labelled)
    return rows
