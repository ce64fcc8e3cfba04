"""The agent's CPU meter on a real engine: a container that spins is seen using about the CPU
its limit allows, one that sleeps about none (the kernel's cgroup accounting, not claims)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from dockyard.agent.cpumeter import CpuMeter
from dockyard.runtime.docker import DockerRuntime
from dockyard.runtime.specs import RunSpec
from tests.support.runtime_bed import docker_host
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE

pytestmark = pytest.mark.engine

SPIN = ["sh", "-c", "trap 'exit 0' TERM; while :; do :; done"]


@pytest.fixture
def runtime(test_image: str) -> Iterator[tuple[DockerRuntime, str]]:
    with docker_host("cpu") as bed:
        yield bed


def running(runtime: tuple[DockerRuntime, str], command: list[str]) -> str:
    engine, host = runtime
    # A quarter of a CPU at most: the spinner is seen, and the shared machine barely notices.
    spec = RunSpec(uuid=str(uuid.uuid4()), host=host, image=TEST_IMAGE, command=command,
                   cpu=0.25)  # fmt: skip
    engine_id = engine.create(spec)
    engine.start(engine_id)
    return engine_id


def test_spinning_container_is_seen_using_cpu_and_a_sleeping_one_not(
    runtime: tuple[DockerRuntime, str],
) -> None:
    spinning = running(runtime, SPIN)
    sleeping = running(runtime, SLEEP_FOREVER)
    both, alone = CpuMeter(), CpuMeter()
    assert both.sample([spinning, sleeping]) is None  # the first sample only starts the count
    assert alone.sample([sleeping]) is None
    time.sleep(2)
    used = both.sample([spinning, sleeping])
    idle = alone.sample([sleeping])
    assert used is not None
    assert idle is not None
    assert 0.1 < used < 0.4, used
    assert idle < 0.05, idle
    unknown = CpuMeter()  # no accounting found for the containers: nothing to say, not 0
    unknown.sample(["0" * 64])
    assert unknown.sample(["0" * 64]) is None
