"""ContainersClient against a real server: endpoint forms, paging, error parsing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from dockyard.client.containers import (
    ApiError,
    ContainersClient,
    InvalidEndpoint,
    ServerUnreachable,
    endpoint,
)
from tests.support.server import DockyardProcess, free_port
from tests.support.testimage import SLEEP_FOREVER


@pytest.fixture
def client(server: DockyardProcess) -> Iterator[ContainersClient]:
    with ContainersClient(server.url) as api:
        yield api


@pytest.fixture
def two_created(client: ContainersClient, api: httpx.Client) -> Iterator[list[str]]:
    names = [f"page-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for name in names:
        client.create({"name": name, "image": "dockyard-test/busybox:1", "command": ["true"]})
    yield names
    for name in names:
        api.delete(f"/v1/containers/{name}", params={"force": "true"})


def test_endpoint_accepts_the_url_with_or_without_v1() -> None:
    assert endpoint("http://h:1") == "http://h:1/v1"
    assert endpoint("http://h:1/") == "http://h:1/v1"
    assert endpoint("http://h:1/v1/") == "http://h:1/v1"


@pytest.mark.parametrize("url", ["foo", "http://", "http://[::1", "ftp://host"])
def test_malformed_url_is_a_client_error(url: str) -> None:
    with pytest.raises(InvalidEndpoint, match="Invalid URL"):
        ContainersClient(url)


def test_list_follows_next_through_every_page(
    client: ContainersClient, two_created: list[str], api: httpx.Client
) -> None:
    first_page = api.get("/v1/containers", params={"limit": 1}).json()
    assert first_page["next"]
    names = [c["name"] for c in client.list(limit=1)]
    assert set(two_created) <= set(names)
    assert len(names) == len(set(names))


def test_list_keeps_the_filters_on_every_page(client: ContainersClient, api: httpx.Client) -> None:
    missing = f"dockyard-test/paging-{uuid.uuid4().hex[:8]}:1"
    names = [f"page-{uuid.uuid4().hex[:10]}" for _ in range(3)]
    images = [missing, "dockyard-test/busybox:1", missing]
    try:
        for name, image in zip(names, images, strict=True):
            client.create({"name": name, "image": image, "command": ["true"]})
        listed = client.list(image=missing, limit=1)
        assert [c["name"] for c in listed] == [names[0], names[2]]
    finally:
        for name in names:
            api.delete(f"/v1/containers/{name}", params={"force": "true"})


def test_api_error_carries_status_code_and_title(client: ContainersClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.get("no-such-container")
    assert (caught.value.status, caught.value.code) == (404, "container.container-not-found")
    assert caught.value.title == "Container no-such-container could not be found."
    assert str(caught.value) == "Container no-such-container could not be found. (HTTP 404)"


def test_unknown_list_filter_is_a_bad_request(client: ContainersClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.list(colour="blue")
    assert (caught.value.status, caught.value.title) == (400, "Unknown parameters: colour")


def test_closed_port_raises_server_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ContainersClient(url) as api, pytest.raises(ServerUnreachable) as caught:
        api.list()
    assert str(caught.value) == f"The server at {url}/v1 does not answer (connection refused)"


def test_non_json_error_falls_back_to_the_text() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="Bad gateway from the proxy\n<html>")

    transport = httpx.MockTransport(reply)
    with (
        ContainersClient("http://proxy", transport=transport) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.get("x")
    assert (caught.value.status, caught.value.title) == (502, "Bad gateway from the proxy")


def test_execute_and_wait_for_status_round_trip(
    client: ContainersClient, api: httpx.Client
) -> None:
    name = f"exec-{uuid.uuid4().hex[:10]}"
    spec = {"name": name, "image": "dockyard-test/busybox:1", "command": SLEEP_FOREVER}
    try:
        client.create(spec, run=True)
        assert client.wait_for_status(name, ["Running"], timeout=30)["name"] == name
        result = client.execute(name, "sh -c 'echo hi; exit 2'")
        assert (result["output"], result["exit_code"]) == ("hi\n", 2)
    finally:
        api.delete(f"/v1/containers/{name}", params={"stop": "true"})


def test_server_error_message_includes_the_detail() -> None:
    body = {
        "errors": [
            {
                "code": "container.",
                "status": 500,
                "title": "Internal Server Error",
                "detail": "Your request could not be handled. Error Correlation id is: 7",
            }
        ]
    }

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json=body)

    transport = httpx.MockTransport(reply)
    with (
        ContainersClient("http://h", transport=transport) as api,
        pytest.raises(ApiError) as caught,
    ):
        api.start("x")
    assert caught.value.title == "Internal Server Error"
    assert str(caught.value) == (
        "Internal Server Error: Your request could not be handled. Error Correlation id is: 7"
        " (HTTP 500)"
    )
