"""Fixtures the end-to-end test modules share, made against the session's `dockyard serve`:
per module an HTTP client, one of /network (Neutron), the real `openstack appcontainer` CLI
and python-zunclient (1.40); per test a record of the capsules it makes (removed after it)
and, for the clustering tests (test_clusters_*.py), the real Senlin CLI and an HTTP client of
/cluster. A module that needs another kind defines its own of the same name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from zunclient.v1.client import Client

from tests.support.capsules import Capsules
from tests.support.clustering import CLUSTERING
from tests.support.osc import Osc
from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess
from tests.support.zunclient import make_client


@pytest.fixture(scope="module")
def http(server: DockyardProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def neutron(server: DockyardProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/network/v2.0", timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def osc(server: DockyardProcess, tmp_path_factory: pytest.TempPathFactory) -> Osc:
    return Osc(server.url, tmp_path_factory.mktemp("osc-home"))


@pytest.fixture(scope="module")
def zun(server: DockyardProcess) -> Client:
    return make_client(server.url, "1.40")


@pytest.fixture
def cli(server: DockyardProcess, tmp_path: Path) -> SenlinCli:
    return SenlinCli(server.url, tmp_path)


@pytest.fixture
def senlin(server: DockyardProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/cluster", headers=CLUSTERING, timeout=30) as c:
        yield c


@pytest.fixture
def capsules(api: httpx.Client, engine: docker.DockerClient) -> Iterator[Capsules]:
    made = Capsules(api, engine)
    yield made
    made.clean_up()
