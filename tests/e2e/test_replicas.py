"""Two `dockyard api` replicas on one PostgreSQL: kill -9 of one loses nothing it accepted."""

from __future__ import annotations

import threading
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.burst import assert_each_accepted_runs_once, burst_of_creates
from tests.support.database import fresh_postgres
from tests.support.parts import ApiPart, agent_part
from tests.support.server import remove_engine_objects
from tests.support.wait import wait_for
from tests.support.zun import unique_name


@pytest.mark.engine
def test_kill_9_of_a_replica_loses_nothing_it_accepted_and_the_other_serves_on(
    tmp_path: Path, test_image: str, engine: docker.DockerClient
) -> None:
    name = unique_name("replicas")
    host_uuid: str | None = None
    with fresh_postgres() as url:
        # Both start at once on the empty database: one migrates, the other waits for it.
        first, second = ApiPart(tmp_path / "a", url), ApiPart(tmp_path / "b", url)
        agent = agent_part(tmp_path, [second.url], "--runtime", "docker", "--name", name,
                           "--state-dir", str(tmp_path / "agent"))  # fmt: skip
        try:
            for replica in (first, second):
                replica.spawn()
            for replica in (first, second):
                replica.wait_ready()
            agent.spawn()
            with second.client() as api:
                host_uuid = wait_for(lambda: _host_uuid(api, name), what="the agent to join")
            accepted: list[str] = []
            halfway = threading.Event()
            burst = threading.Thread(
                target=burst_of_creates, args=(first.url, test_image, accepted, halfway)
            )
            burst.start()
            assert halfway.wait(60), "the burst never got half way"
            first.kill9()
            burst.join(60)
            with second.client() as api:
                assert_each_accepted_runs_once(api, str(host_uuid), engine, accepted, timeout=120)
        finally:
            agent.stop()
            for replica in (first, second):
                replica.stop()
            if host_uuid:
                remove_engine_objects(host_uuid)


def _host_uuid(api: httpx.Client, name: str) -> str | None:
    hosts = api.get("/v1/hosts").json()["hosts"]
    return next((str(h["uuid"]) for h in hosts if h["hostname"] == name), None)
