"""/v1/volumes and `mounts` on create: bad input is a Zun-format 4xx and leaves nothing made."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.testimage import TEST_IMAGE
from tests.support.zun import assert_zun_error, container_uuids, unique_name

SCHEMA = "container.schema-validation-error"
INVALID = "container.invalid-value"
LATEST = {"OpenStack-API-Version": "container 1.40"}


@pytest.fixture(scope="module")
def client(server: DockyardProcess) -> Iterator[httpx.Client]:
    with server.client() as api:
        api.headers.update(LATEST)
        yield api


@pytest.fixture(scope="module")
def volume(client: httpx.Client) -> Iterator[dict[str, Any]]:
    response = client.post("/v1/volumes", json={"volume": {"name": unique_name("vol"), "size": 1}})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()["volume"]
    yield made
    client.delete(f"/v1/volumes/{made['uuid']}")


def test_a_volume_is_created_shown_listed_and_deleted(client: httpx.Client) -> None:
    name = unique_name("vol")
    response = client.post("/v1/volumes", json={"volume": {"name": name, "size": "2"}})
    assert response.status_code == 201, response.text
    made = response.json()["volume"]
    assert (made["name"], made["size"], made["in_use"]) == (name, 2, False)
    assert made["backend"] == "local"
    assert response.headers["Location"].endswith(f"/v1/volumes/{made['uuid']}")
    shown = client.get(f"/v1/volumes/{name}").json()["volume"]
    assert shown["uuid"] == made["uuid"]
    listed = client.get("/v1/volumes").json()
    assert made["uuid"] in [v["uuid"] for v in listed["volumes"]]
    assert client.delete(f"/v1/volumes/{name}").status_code == 204
    assert_zun_error(client.get(f"/v1/volumes/{made['uuid']}"), 404, "container.volume-not-found")


def test_a_second_volume_of_the_same_name_is_conflict(
    client: httpx.Client, volume: dict[str, Any]
) -> None:
    again = client.post("/v1/volumes", json={"volume": {"name": volume["name"]}})
    assert_zun_error(again, 409, "container.resource-exists")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x"},
        {"volume": {"name": "-bad"}},
        {"volume": {"name": "ok-name", "size": 0}},
        {"volume": {"name": "ok-name", "size": "big"}},
        {"volume": {"name": "ok-name", "size": True}},
        {"volume": {"name": "ok-name", "colour": "red"}},
    ],
)
def test_bad_volume_bodies_are_400(client: httpx.Client, body: dict[str, Any]) -> None:
    before = {v["uuid"] for v in client.get("/v1/volumes").json()["volumes"]}
    response = client.post("/v1/volumes", json=body)
    assert response.status_code == 400, response.text
    assert_zun_error(response, 400)
    assert {v["uuid"] for v in client.get("/v1/volumes").json()["volumes"]} == before


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("mounts", "code"),
    [
        ([{"source": "x", "destination": "data"}], SCHEMA),
        ([{"source": "x", "destination": "/"}], SCHEMA),
        ([{"source": "x", "destination": "/a/.."}], SCHEMA),
        ([{"size": 0, "destination": "/data"}], SCHEMA),
        ([{"size": "lots", "destination": "/data"}], SCHEMA),
        ([{"size": 1}], SCHEMA),
        ([{"destination": "/data"}], INVALID),
        ([{"source": "x", "size": 1, "destination": "/data"}], INVALID),
        ([{"type": "tmpfs", "destination": "/data"}], SCHEMA),
        ([{"type": "bind", "source": "not base64!", "destination": "/etc/x"}], INVALID),
        ([{"type": "bind", "size": 1, "destination": "/etc/x"}], INVALID),
        ([{"type": "bind", "source": _b64("x" * 70000), "destination": "/etc/x"}], INVALID),
        ([{"size": 1, "destination": "/d"}, {"size": 1, "destination": "/d/"}], INVALID),
        (["/data"], SCHEMA),
        ([{"source": "x", "destination": "/data", "extra": 1}], SCHEMA),
    ],
)
def test_bad_mounts_are_400_and_make_nothing(
    client: httpx.Client, mounts: list[Any], code: str
) -> None:
    before = container_uuids(client)
    body = {"name": unique_name("badmount"), "image": TEST_IMAGE, "mounts": mounts}
    assert_zun_error(client.post("/v1/containers", json=body), 400, code)
    assert container_uuids(client) == before


def test_an_unknown_volume_is_404_and_makes_nothing(client: httpx.Client) -> None:
    before = container_uuids(client)
    body = {
        "name": unique_name("nomount"),
        "image": TEST_IMAGE,
        "mounts": [{"source": "no-such-volume", "destination": "/data"}],
    }
    assert_zun_error(client.post("/v1/containers", json=body), 404, "container.volume-not-found")
    assert container_uuids(client) == before


def test_mounts_need_1_11_and_a_type_needs_1_23(
    client: httpx.Client, volume: dict[str, Any]
) -> None:
    mount = {"source": volume["name"], "destination": "/data"}
    body = {"image": TEST_IMAGE, "mounts": [mount]}
    old = {"OpenStack-API-Version": "container 1.10"}
    response = client.post("/v1/containers", json=body, headers=old)
    assert_zun_error(response, 406 if response.status_code == 406 else 400)
    typed = {"image": TEST_IMAGE, "mounts": [{**mount, "type": "volume"}]}
    before_type = {"OpenStack-API-Version": "container 1.22"}
    assert_zun_error(client.post("/v1/containers", json=typed, headers=before_type), 400, SCHEMA)
