"""Container actions through the real clients: `openstack appcontainer action list/show`
and python-zunclient's `actions`, for requests that succeeded and one that failed; and a
route Dockyard does not serve answers that it does not, not "no such container"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from zunclient.v1.client import Client

from tests.support.osc import Osc
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_gone, wait_status
from tests.support.zun import assert_zun_error, unique_name
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine
REQUEST_ID = "x-openstack-request-id"


@pytest.fixture(scope="module")
def history(http: httpx.Client) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """A container that was created, started and stopped, then asked to unpause (refused):
    the container and the request id of each request, by action."""
    body = {"name": unique_name("acts"), "image": TEST_IMAGE, "command": SLEEP_FOREVER}
    created = http.post("/v1/containers", json=body)
    assert created.status_code == 202, created.text
    container = created.json()
    ids = {"create": created.headers[REQUEST_ID]}
    wait_status(http, container["uuid"], "Created")
    for action, status in (("start", "Running"), ("stop", "Stopped")):
        response = http.post(f"/v1/containers/{container['uuid']}/{action}")
        assert response.status_code == 202, response.text
        ids[action] = response.headers[REQUEST_ID]
        wait_status(http, container["uuid"], status)
    refused = http.post(f"/v1/containers/{container['uuid']}/unpause")
    assert_zun_error(refused, 409)
    ids["unpause"] = refused.headers[REQUEST_ID]
    yield container, ids
    http.delete(f"/v1/containers/{container['uuid']}?force=True")
    wait_gone(http, container["uuid"])


def test_openstack_action_list_shows_every_request_newest_first(
    osc: Osc, history: tuple[dict[str, Any], dict[str, str]]
) -> None:
    container, ids = history
    rows = osc.json("action", "list", container["name"])
    assert [r["action"] for r in rows] == ["unpause", "stop", "start", "create"]
    by_action = {r["action"]: r for r in rows}
    assert {a: r["request_id"] for a, r in by_action.items()} == ids
    assert all(r["container_uuid"] == container["uuid"] for r in rows)
    assert by_action["start"]["message"] is None
    assert "unpause" in by_action["unpause"]["message"].lower()


def test_openstack_action_show_gives_the_events(
    osc: Osc, history: tuple[dict[str, Any], dict[str, str]]
) -> None:
    container, ids = history
    shown = osc.json("action", "show", container["uuid"], ids["unpause"])
    assert (shown["action"], shown["request_id"]) == ("unpause", ids["unpause"])
    assert shown["start_time"] <= shown["finish_time"]
    (event,) = shown["events"]
    assert (event["event"], event["result"]) == ("api_unpause", "Error")
    assert "InvalidStateException" in event["traceback"]  # the admin (noauth) sees details


def test_zunclient_actions_list_and_get(
    server: DockyardProcess, history: tuple[dict[str, Any], dict[str, str]]
) -> None:
    container, ids = history
    zun: Client = make_client(server.url, "1.40")
    listed = zun.actions.list(container["uuid"])
    assert {a.request_id for a in listed} == set(ids.values())
    got = zun.actions.get(container["name"], ids["start"])
    assert (got.action, got.message, got.user_id) == ("start", None, listed[0].user_id)
    # accepted by the API, then finished when the host reported it running
    assert [(e["event"], e["result"]) for e in got.events] == [
        ("api_start", "Success"), ("agent_report", "Success"),
    ]  # fmt: skip
    assert got.start_time <= got.finish_time


def test_unknown_request_id_and_container_are_not_found(
    http: httpx.Client, history: tuple[dict[str, Any], dict[str, str]]
) -> None:
    container, _ = history
    missing = http.get(f"/v1/containers/{container['uuid']}/container_actions/req-nothing")
    assert_zun_error(missing, 404, "container.resource-not-found")
    gone = http.get(f"/v1/containers/{unique_name('nobody')}/container_actions")
    assert_zun_error(gone, 404, "container.container-not-found")


def test_a_route_dockyard_does_not_serve_says_so(
    http: httpx.Client, history: tuple[dict[str, Any], dict[str, str]]
) -> None:
    container, _ = history
    unknown = http.post(f"/v1/containers/{container['uuid']}/frobnicate")
    error = assert_zun_error(unknown, 404, "container.route-not-found")
    assert "frobnicate" in error["detail"]
    assert_zun_error(http.get("/v1/nothing-here"), 404, "container.route-not-found")
    wrong_method = http.put(f"/v1/containers/{container['uuid']}/start")
    assert_zun_error(wrong_method, 405, "container.method-not-allowed")
    assert_zun_error(http.delete("/v1/containers"), 405, "container.method-not-allowed")
    # the container is still there and nothing was recorded for those requests
    actions = http.get(f"/v1/containers/{container['uuid']}/container_actions").json()
    assert len(actions["containerActions"]) == 4


def test_an_update_is_recorded_and_a_delete_leaves_no_row(http: httpx.Client) -> None:
    name = unique_name("acts-del")
    body = {"name": name, "image": TEST_IMAGE, "command": SLEEP_FOREVER}
    created = http.post("/v1/containers", json=body).json()
    wait_status(http, created["uuid"], "Created")
    renamed = http.patch(f"/v1/containers/{created['uuid']}", json={"name": name + "x"})
    assert renamed.status_code == 200, renamed.text
    actions = http.get(f"/v1/containers/{created['uuid']}/container_actions").json()
    assert [a["action"] for a in actions["containerActions"]] == ["update", "create"]
    deleted = http.delete(f"/v1/containers/{created['uuid']}")
    assert deleted.status_code == 204, deleted.text
    wait_gone(http, created["uuid"])


def test_a_create_the_host_fails_finishes_with_error_and_the_hosts_reason(
    http: httpx.Client,
) -> None:
    body = {
        "name": unique_name("acts-fail"), "image": "dockyard-test/never-built:1",
        "image_pull_policy": "never",
    }  # fmt: skip
    created = http.post("/v1/containers?run=true", json=body)
    assert created.status_code == 202, created.text
    uuid = created.json()["uuid"]
    try:
        wait_status(http, uuid, "Error", timeout=60)
        (action,) = http.get(f"/v1/containers/{uuid}/container_actions").json()["containerActions"]
        assert (action["action"], action["message"]) == ("create", "Error")
        assert action["start_time"] <= action["finish_time"]
        shown = http.get(f"/v1/containers/{uuid}/container_actions/{action['request_id']}")
        events = shown.json()["events"]
        assert [(e["event"], e["result"]) for e in events] == [
            ("api_create", "Success"), ("agent_report", "Error"),
        ]  # fmt: skip
        assert "image_pull_policy is never" in events[1]["traceback"]  # the admin sees why
    finally:
        http.delete(f"/v1/containers/{uuid}?force=True")
        wait_gone(http, uuid)
