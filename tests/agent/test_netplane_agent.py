"""Agents wiring tenant networks: two agents on the Docker engine, each with the kernel
backend of its own host namespace, fed by an in-memory control plane. A sandboxed
container and a standalone one on one network reach each other by name across the hosts;
a detach (the sandbox's ports emptied) cuts them apart; a removal unplugs.
"""

from __future__ import annotations

import asyncio
import uuid as uuids
from collections.abc import AsyncIterator
from typing import Any

import pytest

from dockyard import errors
from dockyard.agent.loop import Agent, AgentConfig
from dockyard.agent.membership import HostRemoved
from dockyard.agent.netplane.backend import bridge_name, port_device
from dockyard.agent.netplane.vxlan import KernelBackend
from dockyard.runtime.base import remove_host_objects
from dockyard.runtime.docker import DockerRuntime
from dockyard.runtime.fake import FakeRuntime
from dockyard.schemas.agent import SandboxAssignment, SandboxRef
from dockyard.schemas.netplane import (
    DnsRecord,
    HostNetworks,
    NetworkSpec,
    PortBinding,
    SecurityRule,
)
from tests.agent.fakeplane import FakeControlPlane, assignment
from tests.agent.units import until
from tests.support import netbed
from tests.support.kernelbed import KernelBed
from tests.support.testimage import TEST_IMAGE, ensure_test_image

NET = NetworkSpec(uuid="n1", project_id="p", vni=611, cidr="10.79.0.0/24", gateway="10.79.0.1")
OPEN = {"g": [SecurityRule(direction="ingress"), SecurityRule(direction="egress")]}
SERVE = "while :; do echo {word} | nc -l -p 8080; done"


def port(last: int) -> PortBinding:
    return PortBinding(
        port_id=str(uuids.uuid4()), network_id="n1", ip=f"10.79.0.{last}", prefixlen=24,
        mac=f"02:00:00:79:00:{last:02x}", gateway="10.79.0.1", security_groups=["g"],
    )  # fmt: skip


@pytest.fixture
async def hosts() -> AsyncIterator[
    tuple[KernelBed, list[FakeControlPlane], list[Agent], list[asyncio.Task[None]]]
]:
    await asyncio.to_thread(ensure_test_image)
    kbed = await asyncio.to_thread(lambda: KernelBed(2).start())
    planes = [FakeControlPlane(host=f"np-{kbed.suffix}-{i}") for i in range(2)]
    agents, tasks = [], []
    for i, plane in enumerate(planes):
        config = AgentConfig(
            hostname=plane.host, agent_url="http://127.0.0.1:9", agent_token="t" * 32,
            heartbeat_interval=3600, resync_interval=3600, watch_timeout=0.5, pool_size=1,
        )  # fmt: skip
        runtime = DockerRuntime(None)
        agent = Agent(config, runtime, plane, plane, network=kbed.backends[i])  # type: ignore[arg-type]
        agents.append(agent)
        tasks.append(asyncio.create_task(agent.run()))
    try:
        yield kbed, planes, agents, tasks
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            for plane in planes:
                await _remove_all(plane.host)
        finally:
            await asyncio.to_thread(kbed.close)
    assert not kbed.leftovers()


def networks(kbed: KernelBed, me: int, revision: int, dns: dict[str, Any]) -> HostNetworks:
    peers = [a for i, a in enumerate(kbed.addresses) if i != me]
    return HostNetworks(
        revision=revision, tunnel_ip=kbed.addresses[me],
        networks=[NET.model_copy(update={"peers": peers})], security_groups=OPEN, dns=dns,
    )  # fmt: skip


async def ask(runtime: DockerRuntime, engine_id: str, target: str) -> str:
    command = ["sh", "-c", f"echo | nc -w 2 {target} 8080"]
    result = await asyncio.to_thread(runtime.exec, engine_id, command, 15)
    return result.output.decode().strip() if result.exit_code == 0 else "FAIL"


async def test_agents_plug_sandboxes_and_standalone_containers(hosts: Any) -> None:
    kbed, planes, agents, tasks = hosts
    web_port, client_port = port(3), port(2)
    dns = {"n1": [DnsRecord(name="web", ip="10.79.0.3")]}
    for i, plane in enumerate(planes):
        await plane.put_networks(networks(kbed, i, 1, dns))
    sandbox = SandboxAssignment(
        uuid=str(uuids.uuid4()), project_id="p", generation=1, desired_state="running",
        ports=[web_port],
    )  # fmt: skip
    await planes[1].put_sandbox(sandbox)
    web = assignment(
        str(uuids.uuid4()), image=TEST_IMAGE, command=["sh", "-c", SERVE.format(word="web")],
        sandbox=SandboxRef(uuid=sandbox.uuid),
    )  # fmt: skip
    client = assignment(
        str(uuids.uuid4()), image=TEST_IMAGE, command=["sleep", "600"], ports=[client_port]
    )
    await planes[1].put(web)
    await planes[0].put(client)
    runtime = agents[0].runtime
    await until(lambda: _running(planes[0], client.uuid), "the client to run", 60)
    await until(lambda: _running(planes[1], web.uuid), "the web container to run", 60)
    client_id = _engine_id(planes[0], client.uuid)
    assert await _eventually(lambda: ask(runtime, client_id, "web"), "web")  # by name
    engine = await asyncio.to_thread(runtime.inspect, client_id)
    assert engine.ip_addresses == []  # not on the engine's bridge: the tenant network only
    # The web's sandbox came from the pool (made before networks came: replaced since).
    web_sandbox = await asyncio.to_thread(runtime.find_sandbox, sandbox.uuid)
    assert web_sandbox is not None
    assert web_sandbox.ip_addresses == []

    # Detach: the sandbox's port goes; its veth with it; the client cannot reach it.
    await planes[1].put_sandbox(sandbox.model_copy(update={"generation": 2, "ports": []}))
    await until(
        lambda: port_device(web_port.port_id) not in kbed.host_links(1), "the port to go", 30
    )
    assert await ask(runtime, client_id, "10.79.0.3") == "FAIL"
    # Attach again.
    await planes[1].put_sandbox(sandbox.model_copy(update={"generation": 3, "ports": [web_port]}))
    assert await _eventually(lambda: ask(runtime, client_id, "10.79.0.3"), "web")

    # The agent restarts (a new backend knows no port): its resync plugs the client anew.
    tasks[0].cancel()
    await asyncio.gather(tasks[0], return_exceptions=True)
    fresh = KernelBackend(kbed.backends[0].shell.netns)
    kbed.backends[0] = fresh  # the bed tears down with this one
    restarted = Agent(agents[0].config, runtime, planes[0], planes[0], network=fresh)
    tasks[0] = asyncio.create_task(restarted.run())
    await until(lambda: client_port.port_id in fresh.ports, "the client's port known again", 30)
    chain = f"in_{port_device(client_port.port_id)}"  # its rules, written right after
    await until(lambda: chain in _ruleset(kbed, 0), "the client's rules again", 30)
    assert await _eventually(lambda: ask(runtime, client_id, "web"), "web")

    # Removing the client unplugs it on its host.
    await planes[0].put(client.model_copy(update={"desired_state": "deleted", "generation": 2}))
    await until(lambda: port_device(client_port.port_id) not in kbed.host_links(0), "unplugged", 30)
    assert netbed.run("ip", "-n", kbed.netns[0], "link", "show", "dyn000263").returncode == 0


def _ruleset(kbed: KernelBed, index: int) -> str:
    return netbed.run("ip", "netns", "exec", kbed.netns[index], "nft", "list", "ruleset").stdout


async def _remove_all(host: str) -> None:
    """Everything of the host goes (a removal the agent began may still be under way)."""
    for _ in range(10):
        try:
            await asyncio.to_thread(remove_host_objects, DockerRuntime(None), host)
            return
        except errors.RuntimeConflict:
            await asyncio.sleep(0.5)
    await asyncio.to_thread(remove_host_objects, DockerRuntime(None), host)


def _running(plane: FakeControlPlane, uuid: str) -> bool:
    report = plane.last(uuid)
    return report is not None and report.status == "Running"


def _engine_id(plane: FakeControlPlane, uuid: str) -> str:
    report = plane.last(uuid)
    assert report is not None
    assert report.container_id is not None
    return report.container_id


async def _eventually(probe: Any, expected: str, tries: int = 10) -> bool:
    for _ in range(tries):
        if await probe() == expected:
            return True
        await asyncio.sleep(0.5)
    return False


async def test_a_removed_host_takes_its_networks_away() -> None:
    kbed = await asyncio.to_thread(lambda: KernelBed(1).start())
    plane = FakeControlPlane(host=f"np-{kbed.suffix}-gone")
    config = AgentConfig(
        hostname=plane.host, agent_url="http://127.0.0.1:9", agent_token="t" * 32,
        heartbeat_interval=3600, resync_interval=3600, watch_timeout=0.5, pool_size=0,
    )  # fmt: skip
    runtime = FakeRuntime(plane.host)
    agent = Agent(config, runtime, plane, plane, network=kbed.backends[0])  # type: ignore[arg-type]
    task = asyncio.create_task(agent.run())
    try:
        await plane.put_networks(networks(kbed, 0, 1, {}))
        bridge = bridge_name(NET.vni)
        await until(lambda: bridge in kbed.host_links(0), "the network's bridge", 30)
        plane.gone = True
        with pytest.raises(HostRemoved):
            await asyncio.wait_for(task, 30)
        assert not [name for name in kbed.host_links(0) if name.startswith("dy")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(kbed.close)
    assert not kbed.leftovers()
