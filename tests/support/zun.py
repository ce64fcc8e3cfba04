"""Assertions about Zun's wire format, and containers made over HTTP, shared by the API and
end-to-end tests."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx

from tests.support.server import V140
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_gone, wait_status

ERROR_KEYS = {"request_id", "code", "status", "title", "detail", "links"}
# "container." + the kebab-cased name of the error class (Zun's ParsableErrorMiddleware).
ERROR_CODE = re.compile(r"^container\.[a-z0-9]+(-[a-z0-9]+)*$")


def unique_name(prefix: str) -> str:
    """A container name no other test uses (valid for Zun's name pattern)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_zun_error(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The response is a Zun error document for `status` (and `code`); return errors[0]."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors"}
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    assert set(error) == ERROR_KEYS
    assert error["status"] == status
    assert ERROR_CODE.match(error["code"]), error["code"]
    if code is not None:
        assert error["code"] == code, error
    assert error["request_id"].startswith("req-")
    assert error["request_id"] == response.headers["x-openstack-request-id"]
    assert isinstance(error["title"], str)
    assert error["title"]
    assert isinstance(error["detail"], str)
    assert error["detail"]
    assert error["links"] == []
    return error


def container_uuids(api: httpx.Client) -> set[str]:
    """Every container the caller can see (one page: the default limit is the maximum)."""
    response = api.get("/v1/containers")
    assert response.status_code == 200, response.text
    return {c["uuid"] for c in response.json()["containers"]}


def execute_ok(api: httpx.Client, ident: str, command: str) -> str:
    """Run command in the container; assert it succeeded; its stripped output."""
    response = api.post(f"/v1/containers/{ident}/execute", params={"command": command, "run": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["exit_code"] == 0, body
    return str(body["output"]).strip()


def run_container(http: httpx.Client, prefix: str, **extra: Any) -> dict[str, Any]:
    """A new container of the test image (sleeping, unless `extra` says otherwise), once it is
    Running."""
    body = {"name": unique_name(prefix), "image": TEST_IMAGE, "command": SLEEP_FOREVER, **extra}
    created = http.post("/v1/containers?run=true", json=body, headers=V140)
    assert created.status_code == 202, created.text
    return wait_status(http, created.json()["uuid"], "Running")


def remove_container(http: httpx.Client, uuid: str) -> None:
    """Force-delete the container and wait until it is gone."""
    http.delete(f"/v1/containers/{uuid}?force=True", headers=V140)
    wait_gone(http, uuid)
