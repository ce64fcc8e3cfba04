"""The host API's file calls: only with the host's own token; archives go out and in as
base64 JSON, a missing path is a 404, a bad tar a 400; commit answers the image (FakeRuntime)."""

from __future__ import annotations

import base64
import io
import tarfile
import uuid

import httpx

from dockyard.agent.hostapi import create_host_api
from dockyard.runtime.fake import FakeRuntime
from dockyard.runtime.specs import RunSpec

SECRET = "host-api-secret-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}
IMAGE = "busybox:1"


def client(runtime: FakeRuntime) -> httpx.AsyncClient:
    app = create_host_api({"h": (runtime, SECRET)})
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")


def running(runtime: FakeRuntime) -> str:
    spec = RunSpec(uuid=str(uuid.uuid4()), host="h", image=IMAGE, command=["sleep", "1000"])
    engine_id = runtime.create(spec)
    runtime.start(engine_id)
    return engine_id


def tar_b64(name: str, data: bytes) -> str:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(out.getvalue()).decode()


async def test_file_calls_need_the_hosts_own_token() -> None:
    runtime = FakeRuntime(images=[IMAGE])
    engine_id = running(runtime)
    url = f"/containers/{engine_id}"
    async with client(runtime) as api:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            put = await api.put(
                f"{url}/archive", params={"path": "/tmp"}, json={"data": tar_b64("a", b"a")},
                headers=headers,
            )  # fmt: skip
            assert put.status_code == 401
            got = await api.get(f"{url}/archive", params={"path": "/tmp"}, headers=headers)
            assert got.status_code == 401
            made = await api.post(f"{url}/commit", json={"repository": "x", "tag": "1"},
                                  headers=headers)  # fmt: skip
            assert made.status_code == 401
    assert not runtime.has_image("x:1")
    assert runtime.exec(engine_id, ["cat", "/tmp/a"], 5).exit_code == 1


async def test_archives_round_trip_and_commit_answers_the_image() -> None:
    runtime = FakeRuntime(images=[IMAGE])
    url = f"/containers/{running(runtime)}"
    async with client(runtime) as api:
        body = {"data": tar_b64("note", b"hi\n")}
        put = await api.put(f"{url}/archive", params={"path": "/tmp"}, json=body, headers=AUTH)
        assert put.status_code == 204
        got = await api.get(f"{url}/archive", params={"path": "/tmp/note"}, headers=AUTH)
        assert got.status_code == 200
        assert got.json()["stat"]["name"] == "note"
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(got.json()["data"]))) as tar:
            assert tar.getnames() == ["note"]
        missing = await api.get(f"{url}/archive", params={"path": "/nope"}, headers=AUTH)
        assert missing.status_code == 404
        bad = {"data": base64.b64encode(b"not a tar").decode()}
        refused = await api.put(f"{url}/archive", params={"path": "/tmp"}, json=bad, headers=AUTH)
        assert refused.status_code == 400
        made = await api.post(f"{url}/commit", json={"repository": "x", "tag": "1"}, headers=AUTH)
        assert made.status_code == 200
        assert made.json()["tags"] == ["x:1"]


async def test_hollow_hosts_each_take_only_their_own_token_for_files() -> None:
    first, second = FakeRuntime(images=[IMAGE]), FakeRuntime(images=[IMAGE])
    app = create_host_api({"a": (first, "secret-of-a-0123456789"), "b": (second, SECRET)})
    transport = httpx.ASGITransport(app=app)
    engine_id = running(first)
    url = f"/hosts/a/containers/{engine_id}/archive"
    body = {"data": tar_b64("only-a", b"a\n")}
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as api:
        wrong = await api.put(url, params={"path": "/tmp"}, json=body, headers=AUTH)  # b's
        assert wrong.status_code == 401
        mine = {"Authorization": "Bearer secret-of-a-0123456789"}
        put = await api.put(url, params={"path": "/tmp"}, json=body, headers=mine)
        assert put.status_code == 204
    assert first.exec(engine_id, ["cat", "/tmp/only-a"], 5).output == b"a\n"
