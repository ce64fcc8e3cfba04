"""The host API's health probe on a real engine: a GET of the member's own address from inside
its network namespace, and nothing else (not a neighbour the member could reach, not the host,
not loopback), only with the host's token and only on a host whose containers have namespaces.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import docker
import httpx
import pytest

from dockyard.agent.hostapi import create_host_api
from dockyard.runtime.docker import DockerRuntime
from dockyard.runtime.specs import RunSpec
from tests.support.clustering import HTTP_MEMBER
from tests.support.runtime_bed import docker_host
from tests.support.testimage import TEST_IMAGE

pytestmark = pytest.mark.engine

SECRET = "host-api-secret-0123456789"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def runtime(test_image: str) -> Iterator[tuple[DockerRuntime, str]]:
    with docker_host("probe") as bed:
        yield bed


@pytest.fixture
async def agent(runtime: tuple[DockerRuntime, str]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_host_api({"h": (runtime[0], SECRET)}, namespaced=["h"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        yield client


def serving(runtime: tuple[DockerRuntime, str]) -> tuple[str, str]:
    """A running member serving on 8080: its engine id and its address on the engine bridge."""
    engine, host = runtime
    spec = RunSpec(uuid=str(uuid.uuid4()), host=host, image=TEST_IMAGE, command=HTTP_MEMBER)
    engine_id = engine.create(spec)
    engine.start(engine_id)
    for _ in range(100):
        found = engine.inspect(engine_id).ip_addresses
        answers = engine.exec(engine_id, ["wget", "-qO-", "http://127.0.0.1:8080/"], 5)
        if found and answers.exit_code == 0:
            return engine_id, found[0]
        engine.exec(engine_id, ["sleep", "0.1"], 5)
    raise AssertionError("the member did not serve")


async def probe(api: httpx.AsyncClient, engine_id: str, **target: Any) -> httpx.Response:
    body = {"port": 8080, "path": "/", "expected": "ok", "timeout": 3, **target}
    return await api.post(f"/containers/{engine_id}/probe", json=body, headers=AUTH)


async def test_probe_reaches_the_members_own_address_and_nothing_else(
    runtime: tuple[DockerRuntime, str], agent: httpx.AsyncClient, engine: docker.DockerClient
) -> None:
    member, ip = await asyncio.to_thread(serving, runtime)
    neighbour, neighbour_ip = await asyncio.to_thread(serving, runtime)

    healthy = await probe(agent, member, ip=ip)
    assert healthy.status_code == 200, healthy.text
    assert healthy.json() == {"healthy": True, "connected": True, "status": 200,
                              "reason": "HTTP 200."}  # fmt: skip
    wrong_body = (await probe(agent, member, ip=ip, expected="nope")).json()
    assert (wrong_body["healthy"], wrong_body["connected"]) == (False, True)
    missing = (await probe(agent, member, ip=ip, path="/missing")).json()
    assert (missing["healthy"], missing["status"]) == (False, 404)
    closed = (await probe(agent, member, ip=ip, port=8081)).json()
    assert (closed["healthy"], closed["connected"]) == (False, False)

    # The member itself reaches its neighbour and the host over the bridge; the probe does not.
    gateway = engine.containers.get(member).attrs["NetworkSettings"]["Gateway"]
    reached = runtime[0].exec(member, ["wget", "-qO-", f"http://{neighbour_ip}:8080/"], 5)
    assert reached.exit_code == 0
    assert b"ok" in reached.output
    unspecified = "0.0.0.0"  # noqa: S104 - an address the probe must refuse, not a bind
    for elsewhere in (neighbour_ip, gateway, "127.0.0.1", "::1", unspecified, "169.254.169.254"):
        refused = await probe(agent, member, ip=elsewhere)
        assert refused.status_code == 400, (elsewhere, refused.text)
    for bad in ({"ip": "10.0.0.1:80"}, {"ip": ip, "port": 0}, {"ip": ip, "path": "/a b"},
                {"ip": ip, "path": "x"}, {"ip": ip, "timeout": 3600}):  # fmt: skip
        assert (await probe(agent, member, **bad)).status_code == 400, bad

    # It stops answering: the probe says so (and the neighbour still answers its own probe).
    assert runtime[0].exec(member, ["killall", "httpd"], 5).exit_code == 0
    for _ in range(50):  # SIGTERM: gone a moment later
        if runtime[0].exec(member, ["pidof", "httpd"], 5).exit_code != 0:
            break
        await asyncio.sleep(0.1)
    stopped = (await probe(agent, member, ip=ip)).json()
    assert (stopped["healthy"], stopped["connected"]) == (False, False)
    assert (await probe(agent, neighbour, ip=neighbour_ip)).json()["healthy"] is True


async def test_probe_needs_the_token_and_a_host_with_namespaces(
    runtime: tuple[DockerRuntime, str], agent: httpx.AsyncClient
) -> None:
    member, ip = await asyncio.to_thread(serving, runtime)
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        body = {"ip": ip, "port": 8080}
        denied = await agent.post(f"/containers/{member}/probe", json=body, headers=headers)
        assert denied.status_code == 401
    hollow = create_host_api({"h": (runtime[0], SECRET)})  # no namespaced hosts
    transport = httpx.ASGITransport(app=hollow)
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as api:
        assert (await probe(api, member, ip=ip)).status_code == 409
    assert (await probe(agent, "0" * 64, ip=ip)).status_code == 404
