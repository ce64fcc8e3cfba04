"""Shared fixtures: a real Docker engine, the local test image, a running `dockyard serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.testimage import ensure_test_image


@pytest.fixture(scope="session")
def engine() -> Iterator[docker.DockerClient]:
    """The local Docker engine; a missing engine fails the run (it is never a skip)."""
    client = docker.from_env()
    try:
        client.ping()
    except Exception as exc:  # pragma: no cover - environment problem
        pytest.fail(f"No Docker engine answers: {exc}. Run the README's set-up first.")
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_image(engine: docker.DockerClient) -> str:
    return ensure_test_image()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[DockyardProcess]:
    """One `dockyard serve` for the session (SQLite, real engine, no-auth)."""
    proc = DockyardProcess(tmp_path_factory.mktemp("serve"))
    proc.start(timeout=90)  # a loaded machine (2 cores, many test runs) starts slowly
    yield proc
    proc.stop()
    proc.remove_engine_objects()


@pytest.fixture
def api(server: DockyardProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
