"""/v1/quotas and /v1/quota_classes through the real server, in Zun's shapes and errors."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_gone
from tests.support.zun import assert_zun_error, unique_name

ZUN_DEFAULTS = {"containers": 40, "memory": 51200, "cpu": 20, "disk": 100}
SCHEMA = "container.schema-validation-error"
OVER_QUOTA = "container.over-quota"
OWN_PROJECT = "default"  # the project every no-auth request acts in


@pytest.fixture
def project(api: httpx.Client) -> Iterator[str]:
    """A project of its own for the test, back to the defaults afterwards."""
    project_id = f"proj-{uuid.uuid4().hex[:12]}"
    yield project_id
    api.delete(f"/v1/quotas/{project_id}")


@pytest.fixture
def own_project(api: httpx.Client) -> Iterator[str]:
    """The caller's own project; whatever limits the test sets are dropped afterwards."""
    yield OWN_PROJECT
    assert api.delete(f"/v1/quotas/{OWN_PROJECT}").status_code == 200


def in_use(api: httpx.Client, project_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/quotas/{project_id}?usages=True")
    assert response.status_code == 200, response.text
    return {name: value["in_use"] for name, value in response.json().items()}


def test_new_project_gets_zuns_defaults(api: httpx.Client, project: str) -> None:
    response = api.get(f"/v1/quotas/{project}")
    assert response.status_code == 200
    assert response.json() == ZUN_DEFAULTS
    assert api.get(f"/v1/quotas/{project}/defaults").json() == ZUN_DEFAULTS


@pytest.mark.parametrize("value", ["True", "false", "0", "yes"])
def test_any_usages_value_asks_for_usages(api: httpx.Client, project: str, value: str) -> None:
    response = api.get(f"/v1/quotas/{project}", params={"usages": value})
    assert response.status_code == 200
    assert response.json() == {
        name: {"limit": limit, "in_use": 0} for name, limit in ZUN_DEFAULTS.items()
    }


def test_put_sets_the_named_limits_and_answers_all_four(api: httpx.Client, project: str) -> None:
    response = api.put(f"/v1/quotas/{project}", json={"containers": 5, "cpu": "8", "disk": -1})
    assert response.status_code == 200, response.text
    expected = {**ZUN_DEFAULTS, "containers": 5, "cpu": 8, "disk": -1}
    assert response.json() == expected
    assert api.get(f"/v1/quotas/{project}").json() == expected
    # Pecan merges query parameters into the body: zunclient-era callers may use either.
    response = api.put(f"/v1/quotas/{project}?memory=1024")
    assert response.status_code == 200, response.text
    assert response.json() == {**expected, "memory": 1024}


def test_delete_goes_back_to_the_defaults(api: httpx.Client, project: str) -> None:
    api.put(f"/v1/quotas/{project}", json={"containers": 1, "memory": 2})
    response = api.delete(f"/v1/quotas/{project}")
    assert response.status_code == 200
    assert response.json() is None  # what Zun's Pecan controller answers
    assert api.get(f"/v1/quotas/{project}").json() == ZUN_DEFAULTS


def test_quota_class_is_read_and_set(api: httpx.Client) -> None:
    name = f"class-{uuid.uuid4().hex[:8]}"
    assert api.get(f"/v1/quota_classes/{name}").json() == ZUN_DEFAULTS
    response = api.put(f"/v1/quota_classes/{name}", json={"containers": 7, "memory": -1})
    assert response.status_code == 200, response.text
    assert response.json() == {**ZUN_DEFAULTS, "containers": 7, "memory": -1}
    assert api.get(f"/v1/quota_classes/{name}").json() == response.json()


def test_default_class_changes_the_defaults_of_every_project(
    api: httpx.Client, project: str
) -> None:
    try:
        assert api.put("/v1/quota_classes/default", json={"cpu": 3}).status_code == 200
        assert api.get(f"/v1/quotas/{project}/defaults").json()["cpu"] == 3
        assert api.get(f"/v1/quotas/{project}").json()["cpu"] == 3
        api.put(f"/v1/quotas/{project}", json={"cpu": 5})
        assert api.get(f"/v1/quotas/{project}").json()["cpu"] == 5  # the project's own wins
    finally:
        api.put("/v1/quota_classes/default", json={"cpu": ZUN_DEFAULTS["cpu"]})


BAD_BODIES = [
    pytest.param({"containers": -2}, id="below-minus-one"),
    pytest.param({"containers": "-5"}, id="negative-string"),
    pytest.param({"memory": "lots"}, id="not-a-number"),
    pytest.param({"cpu": 1.5}, id="float"),
    pytest.param({"cpu": True}, id="boolean"),
    pytest.param({"disk": None}, id="null"),
    pytest.param({"disk": [1]}, id="array"),
    pytest.param({"containers": 2**31}, id="too-big"),
    pytest.param({"volumes": 1}, id="unknown-key"),
    pytest.param({"containers": 1, "networks": 1}, id="unknown-key-beside-a-good-one"),
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_limit_is_400_and_changes_nothing(
    api: httpx.Client, project: str, body: dict[str, Any]
) -> None:
    response = api.put(f"/v1/quotas/{project}", json=body)
    error = assert_zun_error(response, 400, SCHEMA)
    assert next(iter(body)) in error["detail"] or "networks" in error["detail"]
    assert api.get(f"/v1/quotas/{project}").json() == ZUN_DEFAULTS


@pytest.mark.parametrize("body", BAD_BODIES[:3] + BAD_BODIES[-2:])
def test_bad_class_limit_is_400(api: httpx.Client, body: dict[str, Any]) -> None:
    assert_zun_error(api.put("/v1/quota_classes/bad-input", json=body), 400, SCHEMA)


def test_malformed_body_and_overlong_project_are_400(api: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    response = api.put("/v1/quotas/p-malformed", content=b'{"cpu": ', headers=headers)
    assert_zun_error(response, 400)
    assert_zun_error(api.put(f"/v1/quotas/{'p' * 256}", json={"cpu": 1}), 400)


def create(api: httpx.Client, name: str) -> httpx.Response:
    body = {"name": name, "image": TEST_IMAGE, "command": ["true"], "cpu": 0.1, "memory": 32}
    return api.post("/v1/containers", json=body)


def remove(api: httpx.Client, uuids: list[str]) -> None:
    for ident in uuids:
        api.delete(f"/v1/containers/{ident}?force=True")
    for ident in uuids:
        wait_gone(api, ident, timeout=60)


def test_create_over_quota_is_a_zun_403(api: httpx.Client, own_project: str) -> None:
    held = in_use(api, own_project)["containers"]
    api.put(f"/v1/quotas/{own_project}", json={"containers": held})
    error = assert_zun_error(create(api, unique_name("over")), 403, OVER_QUOTA)
    assert error["title"] == "Quota exceeded for resources: containers."
    assert error["detail"] == error["title"]
    assert in_use(api, own_project)["containers"] == held


def test_fifty_concurrent_posts_with_room_for_ten_get_ten_202s(
    server: DockyardProcess, api: httpx.Client, own_project: str
) -> None:
    held = in_use(api, own_project)["containers"]
    api.put(f"/v1/quotas/{own_project}", json={"containers": held + 10})
    start = threading.Barrier(50)

    def post(i: int) -> httpx.Response:
        start.wait()
        return create(client, unique_name(f"race{i}"))

    with server.client() as client, ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(post, range(50)))
    accepted = [r.json()["uuid"] for r in responses if r.status_code == 202]
    try:
        assert sorted(r.status_code for r in responses) == [202] * 10 + [403] * 40
        for refused in (r for r in responses if r.status_code == 403):
            assert_zun_error(refused, 403, OVER_QUOTA)
        assert in_use(api, own_project)["containers"] == held + 10
    finally:
        remove(api, accepted)
    assert in_use(api, own_project)["containers"] == held  # gone rows gave their room back
