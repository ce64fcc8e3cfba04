"""Fixtures of the clustering end-to-end tests (test_clusters_*.py): the real Senlin CLI and an
HTTP client of /cluster, both against the session's `dockyard serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clustering import CLUSTERING
from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess


@pytest.fixture
def cli(server: DockyardProcess, tmp_path: Path) -> SenlinCli:
    return SenlinCli(server.url, tmp_path)


@pytest.fixture
def senlin(server: DockyardProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/cluster", headers=CLUSTERING, timeout=30) as c:
        yield c
