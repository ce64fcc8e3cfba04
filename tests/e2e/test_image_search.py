"""Image search (`openstack appcontainer image search`, GET /v1/images/{image}/search) in the
project's private registries — a real Distribution registry on loopback behind htpasswd —
besides the images on the hosts; Docker Hub, out of reach from here, and a registry that
never answers are answered at once with a clear error rather than waited on."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from zunclient.v1.client import Client

from tests.support.osc import OPENSTACK, Osc
from tests.support.registry import Registry
from tests.support.zun import assert_zun_error

pytestmark = pytest.mark.engine

USER = "searcher"
PASSWORD = "search-s3cret-" + uuid.uuid4().hex
TIMEOUT = 5.0  # the default registries.search_timeout
KEY = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    running = Registry(tmp_path_factory.mktemp("search-registry"), users={USER: PASSWORD})
    running.start()
    running.push_test_image(f"dockyard-test/search-{KEY}-alpha", "1")
    running.push_test_image(f"dockyard-test/search-{KEY}-alpha", "2")
    running.push_test_image(f"dockyard-test/search-{KEY}-beta", "1")
    yield running
    running.stop()


@pytest.fixture
def record(zun: Client, registry: Registry) -> Iterator[dict[str, Any]]:
    made = zun.registries.create(domain=registry.address, username=USER, password=PASSWORD)
    info: dict[str, Any] = made._info["registry"]
    yield info
    zun.registries.delete(info["uuid"])


def assert_upstream_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """A Zun error document for a 5xx (code "container.", the reason in its detail)."""
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert (error["status"], error["code"]) == (status, "container.")
    assert error["request_id"] == response.headers["x-openstack-request-id"]
    assert error["detail"].startswith(error["title"])  # the reason, which clients print
    return dict(error)


def test_a_search_finds_the_projects_private_images_with_their_tags(
    osc: Osc, zun: Client, registry: Registry, record: dict[str, Any]
) -> None:
    alpha = f"{registry.address}/dockyard-test/search-{KEY}-alpha"
    beta = f"{registry.address}/dockyard-test/search-{KEY}-beta"
    found = {row["Name"]: row for row in osc.json("image", "search", f"search-{KEY}")}
    assert set(found) == {alpha, beta}
    assert (found[alpha]["Tags"], found[beta]["Tags"]) == (["1", "2"], ["1"])
    assert found[alpha]["Metadata"]["registry"] == registry.address
    exact = osc.json("image", "search", "--exact-match", alpha)  # the registry by its domain
    assert [(row["Name"], row["Tags"]) for row in exact] == [(alpha, ["1", "2"])]
    assert osc.json("image", "search", "--exact-match", f"search-{KEY}") == []
    through_api = zun.images.search_image(f"dockyard-test/search-{KEY}-b", image_driver="docker")
    assert [(i.name, i.tags) for i in through_api] == [(beta, ["1"])]
    assert PASSWORD not in str([i._info for i in through_api])


def test_without_a_record_the_private_registry_refuses_saying_so(
    http: httpx.Client, registry: Registry
) -> None:
    # A bare term asks only the registries the project has records of: none here.
    bare = http.get(f"/v1/images/search-{KEY}/search")
    assert bare.status_code == 200, bare.text
    assert bare.json() == []
    named = http.get(f"/v1/images/{registry.address}/dockyard-test/search-{KEY}/search")
    error = assert_upstream_error(named, 502)
    assert registry.address in error["detail"]
    assert "HTTP 401" in error["detail"]


def test_a_wrong_password_fails_a_named_search_and_is_skipped_by_a_bare_one(
    http: httpx.Client, zun: Client, registry: Registry
) -> None:
    made = zun.registries.create(domain=registry.address, username=USER, password="not-it")
    try:
        named = http.get(f"/v1/images/{registry.address}/dockyard-test/search-{KEY}/search")
        assert "HTTP 401" in assert_upstream_error(named, 502)["detail"]
        bare = http.get(f"/v1/images/search-{KEY}/search")
        assert bare.status_code == 200, bare.text
        assert bare.json() == []
        assert "not-it" not in named.text
    finally:
        zun.registries.delete(made._info["registry"]["uuid"])


def test_docker_hub_out_of_reach_is_a_prompt_clear_error(osc: Osc, http: httpx.Client) -> None:
    started = time.monotonic()
    answer = http.get("/v1/images/docker.io/busybox/search")
    assert time.monotonic() - started < TIMEOUT + 3
    error = assert_upstream_error(answer, 503)
    assert "Docker Hub" in error["detail"]
    assert "could not be reached" in error["detail"]
    command = [OPENSTACK, "--os-auth-type", "none", "--os-endpoint", osc.endpoint,
               "appcontainer", "image", "search", "docker.io/library/busybox"]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env=osc.env, timeout=60)
    assert time.monotonic() - started < TIMEOUT + 15  # (the client's own start is slow here)
    assert done.returncode == 1
    assert "Docker Hub" in done.stderr, done.stderr


def test_a_registry_that_never_answers_is_cut_off_at_the_search_timeout(
    http: httpx.Client,
) -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        answer = http.get(f"/v1/images/{address}/anything/search")
        took = time.monotonic() - started
    error = assert_upstream_error(answer, 503)
    assert f"Registry {address} could not be reached" in error["detail"]
    assert TIMEOUT - 0.5 < took < TIMEOUT + 3


def test_an_unreachable_registry_is_a_503_at_once(http: httpx.Client) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    error = assert_upstream_error(http.get(f"/v1/images/{address}/anything/search"), 503)
    assert time.monotonic() - started < TIMEOUT
    assert address in error["detail"]


@pytest.mark.parametrize(
    ("term", "why"),
    [("-dash-first", "not (part of) an image name"), ("a%20b", "not (part of) an image name"),
     ("busybox:1@sha256", "not (part of) an image name"),
     ("127.0.0.1:5000%2F", "name an image after the registry")],
)  # fmt: skip
def test_a_bad_search_term_is_400(http: httpx.Client, term: str, why: str) -> None:
    error = assert_zun_error(http.get(f"/v1/images/{term}/search"), 400, "container.invalid-value")
    assert why in error["detail"]


def test_a_search_of_the_hosts_images_still_needs_no_registry(http: httpx.Client) -> None:
    missing = http.get(f"/v1/images/nothing-called-{KEY}/search")
    assert missing.status_code == 200, missing.text
    assert missing.json() == []
