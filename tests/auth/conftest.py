"""Session fixtures: a real Keystone, and `dockyard serve` with the tokens and keystone backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.auth.deployments import (
    Deployment,
    running,
    start_keystone_deployment,
    start_tokens_deployment,
)
from tests.support.keystone import Keystone, Realm


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    """One real Keystone for the whole session (installed once into the test cache)."""
    server = Keystone(tmp_path_factory.mktemp("keystone")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tokens_deployment(
    tmp_path_factory: pytest.TempPathFactory, test_image: str
) -> Iterator[Deployment]:
    with running(start_tokens_deployment(tmp_path_factory.mktemp("tokens"))) as deployment:
        yield deployment


@pytest.fixture(scope="session")
def keystone_deployment_and_realm(
    tmp_path_factory: pytest.TempPathFactory, keystone: Keystone, test_image: str
) -> Iterator[tuple[Deployment, Realm]]:
    deployment, realm = start_keystone_deployment(tmp_path_factory.mktemp("ks-serve"), keystone)
    with running(deployment):
        yield deployment, realm


@pytest.fixture(scope="session")
def keystone_deployment(keystone_deployment_and_realm: tuple[Deployment, Realm]) -> Deployment:
    return keystone_deployment_and_realm[0]


@pytest.fixture(scope="session")
def realm(keystone_deployment_and_realm: tuple[Deployment, Realm]) -> Realm:
    return keystone_deployment_and_realm[1]


@pytest.fixture(scope="session", params=["tokens", "keystone"])
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """Each authenticated deployment in turn."""
    name = "tokens_deployment" if request.param == "tokens" else "keystone_deployment"
    result: Deployment = request.getfixturevalue(name)
    return result
