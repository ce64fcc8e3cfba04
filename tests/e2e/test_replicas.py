"""Two `dockyard api` replicas on one PostgreSQL: kill -9 of one loses nothing it accepted."""

from __future__ import annotations

import threading
from pathlib import Path

import docker
import pytest

from tests.support.burst import assert_each_accepted_runs_once, burst_of_creates
from tests.support.replicas import two_replicas
from tests.support.zun import unique_name


@pytest.mark.engine
def test_kill_9_of_a_replica_loses_nothing_it_accepted_and_the_other_serves_on(
    tmp_path: Path, test_image: str, engine: docker.DockerClient
) -> None:
    with two_replicas(tmp_path, unique_name("replicas"), agent_on=1) as bed:
        accepted: list[str] = []
        halfway = threading.Event()
        burst = threading.Thread(
            target=burst_of_creates, args=(bed.first.url, test_image, accepted, halfway)
        )
        burst.start()
        assert halfway.wait(60), "the burst never got half way"
        bed.first.kill9()
        burst.join(60)
        with bed.second.client() as api:
            assert_each_accepted_runs_once(api, bed.host_uuid, engine, accepted, timeout=120)
