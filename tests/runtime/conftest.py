"""The runtimes every contract test runs against: the real Docker engine and the fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dockyard.runtime.base import ContainerRuntime
from dockyard.runtime.docker import DockerRuntime
from dockyard.runtime.fake import FakeRuntime
from tests.support.runtime_bed import FAKE_REGISTRY, Bed
from tests.support.testimage import TEST_IMAGE, ensure_test_image


@pytest.fixture(scope="session")
def docker_runtime() -> Iterator[DockerRuntime]:
    # No skip: a missing engine must fail the run (RuntimeFailure from host_info).
    ensure_test_image()
    runtime = DockerRuntime()
    runtime.host_info()
    yield runtime
    runtime.close()


@pytest.fixture(params=["docker", "fake"])
def bed(request: pytest.FixtureRequest) -> Iterator[Bed]:
    if request.param == "docker":
        runtime: ContainerRuntime = request.getfixturevalue("docker_runtime")
    else:
        runtime = FakeRuntime(images=[TEST_IMAGE], missing_images=[FAKE_REGISTRY + "/nope:1"])
    bed = Bed(runtime=runtime, kind=request.param)
    yield bed
    bed.cleanup()


@pytest.fixture
def docker_bed(docker_runtime: DockerRuntime) -> Iterator[Bed]:
    """For the few checks of how RunSpec maps onto docker's options, which the fake ignores."""
    bed = Bed(runtime=docker_runtime, kind="docker")
    yield bed
    bed.cleanup()
