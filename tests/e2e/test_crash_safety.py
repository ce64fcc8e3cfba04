"""kill -9 of `dockyard serve` in the middle of a burst of creates loses and duplicates nothing."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import docker
import pytest

from tests.support.burst import (
    LABEL_HOST,
    assert_each_accepted_runs_once,
    burst_of_creates,
)
from tests.support.server import DockyardProcess


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
    assert server.host_uuid is not None
    with server.client() as api:
        rows = assert_each_accepted_runs_once(api, server.host_uuid, engine, accepted)
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
        str(c.name).removeprefix("dockyard-sandbox-")
        for c in infra
        if str(c.name).startswith("dockyard-sandbox-")
    )
    assert all(claimed[u] == 1 for u in wanted), f"sandboxes not exactly once: {claimed}"
    assert set(claimed) == wanted, "a sandbox was left without a row"
    free = [c for c in infra if str(c.name).startswith("dockyard-pool-")]
    assert len(free) <= 2, "the warm pool grew past its size"
