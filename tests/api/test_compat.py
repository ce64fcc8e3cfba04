"""Zun wire compatibility over HTTP: version documents, microversions, list envelopes, idents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_gone
from tests.support.zun import assert_zun_error, unique_name

RESOURCES = (
    "services", "containers", "images", "networks", "hosts", "capsules",
    "availability_zones", "quotas", "quota_classes", "registries",
)  # fmt: skip


def version(value: str) -> dict[str, str]:
    return {"OpenStack-API-Version": value}


@pytest.fixture
def bare(server: DockyardProcess) -> Iterator[httpx.Client]:
    """A client that sends no OpenStack-API-Version header at all."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


# --- GET / and GET /v1 ---------------------------------------------------------------------


def test_root_document_offers_v1_as_the_current_version(
    bare: httpx.Client, server: DockyardProcess
) -> None:
    response = bare.get("/")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "OpenStack Zun API"
    assert body["description"].startswith("Zun is an OpenStack project")
    v1 = {
        "id": "v1",
        "links": [{"href": f"{server.url}/v1/", "rel": "self"}],
        "status": "CURRENT",
        "max_version": "1.40",
        "min_version": "1.1",
    }
    assert body["versions"] == [v1]
    assert body["default_version"] == v1


def test_root_document_ignores_microversions(bare: httpx.Client) -> None:
    # The root controller sits outside v1 routing in Zun: no negotiation, no version headers.
    response = bare.get("/", headers=version("container 1.41"))
    assert response.status_code == 200
    assert "openstack-api-version" not in response.headers
    assert "openstack-api-maximum-version" not in response.headers
    assert response.headers["x-openstack-request-id"].startswith("req-")


@pytest.mark.parametrize("path", ["/v1", "/v1/"])
def test_v1_document_links_every_resource(
    bare: httpx.Client, server: DockyardProcess, path: str
) -> None:
    response = bare.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "v1"
    assert body["media_types"] == [
        {"base": "application/json", "type": "application/vnd.openstack.zun.v1+json"}
    ]
    assert body["links"][0] == {"href": f"{server.url}/v1/", "rel": "self"}
    assert body["links"][1]["rel"] == "describedby"
    for name in RESOURCES:
        assert body[name] == [
            {"href": f"{server.url}/v1/{name}/", "rel": "self"},
            {"href": f"{server.url}/{name}/", "rel": "bookmark"},
        ]


# --- microversion negotiation --------------------------------------------------------------


def test_no_version_header_means_the_minimum_1_1(bare: httpx.Client) -> None:
    response = bare.get("/v1/containers")
    assert response.status_code == 200
    assert response.headers["openstack-api-version"] == "container 1.1"


@pytest.mark.parametrize(
    ("requested", "negotiated"),
    [
        ("container 1.40", "1.40"),
        ("container latest", "1.40"),
        ("container 1.1", "1.1"),
        ("container 1.13", "1.13"),
        ("compute 2.1, container 1.30", "1.30"),
        ("compute 2.1", "1.1"),  # no entry for this service: the default
    ],
)
def test_requested_microversion_is_negotiated(
    bare: httpx.Client, requested: str, negotiated: str
) -> None:
    response = bare.get("/v1/containers", headers=version(requested))
    assert response.status_code == 200
    assert response.headers["openstack-api-version"] == f"container {negotiated}"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v1", 200),
        ("GET", "/v1/containers", 200),
        ("GET", "/v1/containers/no-such-container", 404),
        ("GET", "/v1/containers?no_such_param=1", 400),
        ("PUT", "/v1/containers", 405),
        ("GET", "/v1/no-such-resource", 404),
    ],
)
def test_every_v1_response_carries_the_version_headers(
    bare: httpx.Client, method: str, path: str, status: int
) -> None:
    response = bare.request(method, path, headers=version("container 1.25"))
    assert response.status_code == status
    assert response.headers["openstack-api-minimum-version"] == "container 1.1"
    assert response.headers["openstack-api-maximum-version"] == "container 1.40"
    assert response.headers["openstack-api-version"] == "container 1.25"
    assert response.headers["vary"] == "OpenStack-API-Version"
    assert response.headers["x-openstack-request-id"].startswith("req-")
    if status >= 400:
        assert_zun_error(response, status)


@pytest.mark.parametrize(
    "requested",
    [
        "container 1.41",
        "container 2.0",
        "container 0.9",
        "container 1.0",
        "container 1.x",
        "container garbage",
        "1.40",  # no service type
    ],
)
def test_unsupported_microversion_is_not_acceptable(bare: httpx.Client, requested: str) -> None:
    response = bare.get("/v1/containers", headers=version(requested))
    assert_zun_error(response, 406, "container.microversion-unsupported")
    assert response.headers["openstack-api-minimum-version"] == "container 1.1"
    assert response.headers["openstack-api-maximum-version"] == "container 1.40"
    assert response.headers["vary"] == "OpenStack-API-Version"
    assert "openstack-api-version" not in response.headers


def test_bare_version_header_names_the_missing_service_type(bare: httpx.Client) -> None:
    response = bare.get("/v1/containers", headers=version("1.40"))
    error = assert_zun_error(response, 406)
    assert "Invalid service type" in error["title"]


def test_rename_is_gone_from_1_14(bare: httpx.Client) -> None:
    response = bare.post(
        "/v1/containers/anything/rename?name=xy", headers=version("container 1.14")
    )
    assert_zun_error(response, 406, "container.method-not-allowed-in-version")
    # ... and exists up to 1.13 (so an unknown container there is a plain 404)
    response = bare.post(
        "/v1/containers/anything/rename?name=xy", headers=version("container 1.13")
    )
    assert_zun_error(response, 404, "container.container-not-found")


def test_delete_with_stop_needs_1_12(bare: httpx.Client) -> None:
    response = bare.delete("/v1/containers/anything?stop=True", headers=version("container 1.11"))
    error = assert_zun_error(response, 400, "container.invalid-param-in-version")
    assert "stop" in error["detail"]


# --- creating, addressing and listing -------------------------------------------------------


@pytest.fixture(scope="module")
def trio(server: DockyardProcess) -> Iterator[list[httpx.Response]]:
    """Three created (not started) containers whose names sort a < b < c; the create replies."""
    prefix = unique_name("page")
    with server.client() as api:
        replies = [
            api.post("/v1/containers", json={"name": f"{prefix}-a", "image": TEST_IMAGE}),
            api.post("/v1/containers", json={"name": f"{prefix}-b", "image": TEST_IMAGE}),
            # before 1.20 the command is a string, split as a shell would
            api.post(
                "/v1/containers",
                json={"name": f"{prefix}-c", "image": TEST_IMAGE, "command": "sh -c 'echo a b'"},
                headers=version("container 1.19"),
            ),
        ]
        yield replies
        for reply in replies:
            if reply.status_code == 202:
                api.delete(f"/v1/containers/{reply.json()['uuid']}?force=True")
        for reply in replies:
            if reply.status_code == 202:
                wait_gone(api, reply.json()["uuid"])


def _names(page: dict[str, Any], prefix: str) -> list[str]:
    return [c["name"] for c in page["containers"] if c["name"].startswith(prefix)]


def _prefix(trio: list[httpx.Response]) -> str:
    return str(trio[0].json()["name"]).removesuffix("-a")


def test_create_answers_202_with_location_and_a_creating_container(
    trio: list[httpx.Response], server: DockyardProcess
) -> None:
    for reply in trio:
        assert reply.status_code == 202, reply.text
        body = reply.json()
        assert reply.headers["location"] == f"{server.url}/v1/containers/{body['uuid']}"
        assert body["status"] == "Creating"
        assert body["links"] == [
            {"href": f"{server.url}/v1/containers/{body['uuid']}", "rel": "self"},
            {"href": f"{server.url}/containers/{body['uuid']}", "rel": "bookmark"},
        ]


def test_command_string_is_split_before_1_20(trio: list[httpx.Response]) -> None:
    assert trio[2].json()["command"] == ["sh", "-c", "echo a b"]


def test_container_is_addressed_by_uuid_or_by_name(
    api: httpx.Client, trio: list[httpx.Response]
) -> None:
    created = trio[1].json()
    by_uuid = api.get(f"/v1/containers/{created['uuid']}")
    by_name = api.get(f"/v1/containers/{created['name']}")
    assert by_uuid.status_code == by_name.status_code == 200
    assert by_uuid.json()["uuid"] == by_name.json()["uuid"] == created["uuid"]
    assert by_name.json()["name"] == created["name"]


def test_list_envelope_holds_containers_and_next(
    api: httpx.Client, trio: list[httpx.Response]
) -> None:
    body = api.get("/v1/containers").json()
    assert set(body) == {"containers", "next"}
    assert body["next"] is None  # the page is not full
    assert {r.json()["uuid"] for r in trio} <= {c["uuid"] for c in body["containers"]}


def test_list_filters_by_name(api: httpx.Client, trio: list[httpx.Response]) -> None:
    name = trio[0].json()["name"]
    body = api.get("/v1/containers", params={"name": name}).json()
    assert [c["name"] for c in body["containers"]] == [name]


def test_sort_dir_desc_reverses_sort_key_order(
    api: httpx.Client, trio: list[httpx.Response]
) -> None:
    prefix = _prefix(trio)
    ascending = api.get("/v1/containers", params={"sort_key": "name", "sort_dir": "asc"}).json()
    descending = api.get("/v1/containers", params={"sort_key": "name", "sort_dir": "desc"}).json()
    names = [f"{prefix}-a", f"{prefix}-b", f"{prefix}-c"]
    assert _names(ascending, prefix) == names
    assert _names(descending, prefix) == names[::-1]


def test_marker_starts_the_page_after_that_container(
    api: httpx.Client, trio: list[httpx.Response]
) -> None:
    prefix = _prefix(trio)
    marker = trio[0].json()["uuid"]
    params = {"sort_key": "name", "marker": marker, "limit": 2}
    body = api.get("/v1/containers", params=params).json()
    assert [c["name"] for c in body["containers"]] == [f"{prefix}-b", f"{prefix}-c"]


def test_limit_pages_follow_next_to_the_end(api: httpx.Client, trio: list[httpx.Response]) -> None:
    everything = api.get("/v1/containers", params={"sort_key": "name"}).json()["containers"]
    url: str | None = "/v1/containers?sort_key=name&limit=2"
    seen: list[str] = []
    while url:
        body = api.get(url).json()
        page = body["containers"]
        assert len(page) <= 2
        seen += [c["uuid"] for c in page]
        if len(page) < 2:
            assert body["next"] is None
        if body["next"] is not None:
            parts = urlsplit(body["next"])
            assert parts.path == "/v1/containers"
            assert parse_qs(parts.query) == {
                "sort_key": ["name"], "sort_dir": ["asc"], "limit": ["2"],
                "marker": [page[-1]["uuid"]],
            }  # fmt: skip
            url = f"{parts.path}?{parts.query}"
        else:
            url = None
        assert len(seen) <= len(everything)
    assert seen == [c["uuid"] for c in everything]
