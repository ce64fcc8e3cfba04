"""An agent given two control-plane replicas (one PostgreSQL) carries on when one dies."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.database import ENV, fresh_database
from tests.support.parts import ApiPart, agent_part
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_for, wait_status
from tests.support.zun import unique_name

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def replicas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[ApiPart]]:
    """Two `dockyard api` processes on one fresh PostgreSQL database."""
    monkeypatch.setenv(ENV, os.environ.get(ENV, POSTGRES))
    with fresh_database(tmp_path) as url:
        parts = [ApiPart(tmp_path / "one", url).start()]
        parts.append(ApiPart(tmp_path / "two", url).start())  # after: migrations run once
        yield parts
        for part in parts:
            part.stop()


def test_agent_fails_over_to_the_other_replica_and_loses_nothing(
    replicas: list[ApiPart], tmp_path: Path
) -> None:
    one, two = replicas
    name = unique_name("failover")
    agent = agent_part(tmp_path, [one.url, two.url], "--runtime", "fake", "--name", name,
                       "--state-dir", str(tmp_path / "state"))  # fmt: skip
    agent.spawn()
    try:
        with one.client() as first, two.client() as second:
            wait_for(lambda: first.get("/v1/hosts").json()["hosts"], what="host joined")
            body = {"image": "busybox", "command": SLEEP_FOREVER}
            before = first.post("/v1/containers?run=true", json=body).json()
            wait_status(first, before["uuid"], "Running")
            one.kill9()

            # Created on the surviving replica: the agent, whose watch was on the dead one,
            # picks it up there and reports it there.
            after = second.post("/v1/containers?run=true", json=body).json()
            wait_status(second, after["uuid"], "Running")
            assert second.post(f"/v1/containers/{before['uuid']}/stop").status_code == 202
            wait_status(second, before["uuid"], "Stopped")

            def beats() -> int:
                return int(second.get("/v1/services").json()["services"][0]["report_count"])

            count = beats()
            wait_for(lambda: beats() >= count + 3, what="heartbeats through the survivor")
            service = second.get("/v1/services").json()["services"][0]
            assert service["state"] == "up"
            assert service["host"] == name
            assert len(second.get("/v1/hosts").json()["hosts"]) == 1  # still one host
            assert agent.process is not None
            assert agent.process.poll() is None
    finally:
        agent.stop()
