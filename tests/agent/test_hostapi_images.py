"""The host API's image calls: only with the host's own token; a pull streams its progress
and then its outcome; remove and inspect answer as the engine has it (FakeRuntime)."""

from __future__ import annotations

import json

import httpx

from dockyard.agent.hostapi import create_host_api
from dockyard.runtime.fake import FakeRuntime

SECRET = "host-api-secret-0123456789"
MISSING = "registry.example/nope:1"


def client(runtime: FakeRuntime) -> httpx.AsyncClient:
    app = create_host_api({"h": (runtime, SECRET)})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")


AUTH = {"Authorization": f"Bearer {SECRET}"}


async def test_image_calls_need_the_hosts_own_token() -> None:
    runtime = FakeRuntime(images=["busybox:1"])
    async with client(runtime) as api:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            pulled = await api.post("/images/pull", json={"ref": "x:1"}, headers=headers)
            assert pulled.status_code == 401
            removed = await api.post("/images/remove", json={"ref": "busybox:1"}, headers=headers)
            assert removed.status_code == 401
    assert runtime.has_image("busybox:1")
    assert not runtime.has_image("x:1")


async def test_pull_streams_progress_then_the_image() -> None:
    runtime = FakeRuntime(missing_images=[MISSING])
    async with client(runtime) as api:
        response = await api.post("/images/pull", json={"ref": "x:1"}, headers=AUTH)
        lines = [json.loads(line) for line in response.text.splitlines()]
        assert response.status_code == 200
        assert lines[0]["status"] == "Pull complete"
        assert lines[-1]["done"]["tags"] == ["x:1"]
        failed = await api.post("/images/pull", json={"ref": MISSING}, headers=AUTH)
        assert json.loads(failed.text.splitlines()[-1])["kind"] == "not-found"
        shown = await api.get("/images/inspect", params={"ref": "x:1"}, headers=AUTH)
        assert shown.json()["id"].startswith("sha256:")
        assert (
            await api.post("/images/remove", json={"ref": "x:1"}, headers=AUTH)
        ).status_code == 204
        again = await api.post("/images/remove", json={"ref": "x:1"}, headers=AUTH)
        assert again.status_code == 404
        gone = await api.get("/images/inspect", params={"ref": "x:1"}, headers=AUTH)
        assert gone.status_code == 404
