"""kill -9 of `dockyard serve` in the middle of a burst of creates loses and duplicates nothing."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import docker
import pytest

from tests.support.burst import BURST, burst_of_creates
from tests.support.server import DockyardProcess
from tests.support.wait import wait_for

LABEL_CONTAINER = "io.dockyard.container"
LABEL_HOST = "io.dockyard.host"


@pytest.mark.engine
def test_kill_9_during_a_burst_of_creates_loses_and_duplicates_nothing(
    tmp_path: Path, test_image: str, engine: docker.DockerClient
) -> None:
    data_dir = tmp_path / "data"
    first = DockyardProcess(data_dir).start()
    accepted: list[str] = []
    halfway = threading.Event()
    burst = threading.Thread(
        target=burst_of_creates, args=(first.url, test_image, accepted, halfway)
    )
    burst.start()
    try:
        assert halfway.wait(60), "the burst never got half way"
        first.kill9()
        burst.join(60)
        second = DockyardProcess(data_dir, port=first.port).start()
        second.host_uuid = second.host_uuid or first.host_uuid
        try:
            _assert_converged(second, engine, accepted)
        finally:
            second.stop()
    finally:
        first.stop()
        first.remove_engine_objects()


def _assert_converged(
    server: DockyardProcess, engine: docker.DockerClient, accepted: list[str]
) -> None:
    assert len(accepted) >= BURST // 2
    with server.client() as api:

        def all_running() -> list[dict[str, object]] | None:
            rows = api.get("/v1/containers").json()["containers"]
            return rows if rows and all(r["status"] == "Running" for r in rows) else None

        rows = wait_for(all_running, timeout=90, what="every container to be Running")
    uuids = {str(r["uuid"]) for r in rows}
    assert set(accepted) <= uuids, "a container that got a 202 was lost"
    labelled = engine.containers.list(
        all=True,
        filters={"label": [f"{LABEL_HOST}={server.host_uuid}", "io.dockyard.kind=container"]},
    )
    per_uuid = Counter(c.labels[LABEL_CONTAINER] for c in labelled)
    assert all(per_uuid[u] == 1 for u in uuids), (
        f"not exactly one engine container each: {per_uuid}"
    )
    assert set(per_uuid) == uuids, "an engine container was left without a row"
    assert all(c.status == "running" for c in labelled)
    _assert_sandboxes(engine, server, rows)


def _assert_sandboxes(
    engine: docker.DockerClient, server: DockyardProcess, rows: list[dict[str, object]]
) -> None:
    """Each container's sandbox exists exactly once; no sandbox is left without a row."""
    wanted = {str(r["sandbox_id"]) for r in rows if r["sandbox_id"]}
    assert len(wanted) == len(rows), "every container of the burst runs in its own sandbox"
    infra = engine.containers.list(
        all=True,
        filters={"label": [f"{LABEL_HOST}={server.host_uuid}", "io.dockyard.kind=sandbox"]},
    )
    claimed = Counter(
        c.name.removeprefix("dockyard-sandbox-")
        for c in infra
        if c.name.startswith("dockyard-sandbox-")
    )
    assert all(claimed[u] == 1 for u in wanted), f"sandboxes not exactly once: {claimed}"
    assert set(claimed) == wanted, "a sandbox was left without a row"
    free = [c for c in infra if c.name.startswith("dockyard-pool-")]
    assert len(free) <= 2, "the warm pool grew past its size"
