"""The network keeper's lingering networks: a network whose last port left stays plumbed a
while, so a container made again on it does not pay for its devices anew; one the control
plane no longer lists as existing (deleted) goes at once."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import pytest

from dockyard.agent.netplane import keeper
from dockyard.agent.netplane.keeper import NetworkKeeper
from dockyard.runtime.fake import FakeRuntime
from dockyard.schemas.netplane import HostNetworks, NetworkSpec, PortBinding

A = NetworkSpec(uuid="a", project_id="p", vni=701, cidr="10.70.1.0/24", gateway="10.70.1.1")
B = NetworkSpec(uuid="b", project_id="p", vni=702, cidr="10.70.2.0/24", gateway="10.70.2.1")


class Recorder:
    """A backend that keeps what it was asked to carry, and when it loaded the rules (a
    connect always does; an apply unless told a connect follows)."""

    def __init__(self) -> None:
        self.applied: list[list[str]] = []
        self.loads: list[str] = []
        self.last = HostNetworks(revision=-1)
        self.expected: list[str] = []
        self.disconnected: list[list[str]] = []

    def apply(
        self,
        networks: HostNetworks,
        *,
        rules_follow: bool = False,
        expected: Sequence[PortBinding] = (),
    ) -> None:
        self.applied.append(sorted(n.uuid for n in networks.networks))
        self.last = networks
        self.expected = [p.port_id for p in expected]
        if not rules_follow:
            self.loads.append("apply")

    def connect(self, pid: int, ports: list[PortBinding]) -> None:
        self.loads.append("connect")

    def disconnect(self, port_ids: list[str]) -> None:
        self.disconnected.append(list(port_ids))

    def configure_resolver(self, pid: int, network_ids: list[str]) -> None: ...
    def teardown(self) -> None: ...
    def close(self) -> None: ...


async def carry(
    net_keeper: NetworkKeeper,
    revision: int,
    *nets: NetworkSpec,
    exist: tuple[str, ...] = ("a", "b"),
) -> None:
    """The control plane's word: these networks here, and `exist` (those that left may stay)."""
    left = [uuid for uuid in exist if uuid not in {n.uuid for n in nets}]
    net_keeper.want(HostNetworks(revision=revision, networks=list(nets), lingering=left))
    await net_keeper.sync()


async def test_a_network_left_lingers_then_goes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keeper, "LINGER", 0.3)
    backend = Recorder()
    net_keeper = NetworkKeeper(backend, FakeRuntime("h"))
    try:
        await carry(net_keeper, 1, A)
        await carry(net_keeper, 2)  # its last port left: still carried
        await carry(net_keeper, 3, A)  # back: the same networks, nothing to remake
        assert backend.applied == [["a"], ["a"], ["a"]]
        await carry(net_keeper, 4, B)
        assert backend.applied[-1] == ["a", "b"]
        for _ in range(50):  # the linger runs out: a sync of its own drops it
            await asyncio.sleep(0.05)
            if backend.applied[-1] == ["b"]:
                break
        assert backend.applied[-1] == ["b"]
    finally:
        net_keeper.close()


async def test_a_reused_vni_ends_the_linger() -> None:
    backend = Recorder()
    net_keeper = NetworkKeeper(backend, FakeRuntime("h"))
    try:
        await carry(net_keeper, 1, A)
        await carry(net_keeper, 2)
        reused = B.model_copy(update={"vni": A.vni})  # A was deleted, its VNI given to B
        await carry(net_keeper, 3, reused)
        assert backend.applied == [["a"], ["a"], ["b"]]
    finally:
        net_keeper.close()


async def test_a_lingering_network_replicates_to_no_one() -> None:
    backend = Recorder()
    net_keeper = NetworkKeeper(backend, FakeRuntime("h"))
    try:
        await carry(net_keeper, 1, A.model_copy(update={"peers": ["192.0.2.2", "192.0.2.3"]}))
        await carry(net_keeper, 2)  # its last port here left
        assert [(n.uuid, n.peers) for n in backend.last.networks] == [("a", [])]
    finally:
        net_keeper.close()


async def test_a_deleted_network_goes_at_once() -> None:
    backend = Recorder()
    net_keeper = NetworkKeeper(backend, FakeRuntime("h"))
    try:
        await carry(net_keeper, 1, A, B)
        await carry(net_keeper, 2, B)  # A's last port left: it lingers
        assert backend.applied[-1] == ["a", "b"]
        await carry(net_keeper, 3, B, exist=("b",))  # A was deleted: no longer lingering
        assert backend.applied[-1] == ["b"]
    finally:
        net_keeper.close()


async def test_a_port_does_not_take_a_lingering_network_for_carried() -> None:
    backend = Recorder()
    net_keeper = NetworkKeeper(backend, FakeRuntime("h"))
    try:
        await carry(net_keeper, 1, A)
        await carry(net_keeper, 2)
        waiting = asyncio.create_task(net_keeper._carrying([_port("a")], patience=5))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # the current spec of A has not come yet
        await carry(net_keeper, 3, A)
        await asyncio.wait_for(waiting, 1)
    finally:
        net_keeper.close()


def _port(network: str) -> PortBinding:
    return PortBinding(
        port_id="p1", network_id=network, ip="10.70.1.5", prefixlen=24,
        mac="02:00:00:70:01:05", gateway="10.70.1.1",
    )  # fmt: skip


class OwnPid(FakeRuntime):
    """Every container runs in this test's own namespace (a pid that is no hold)."""

    def netns_pid(self, engine_id: str) -> int | None:
        return os.getpid()


async def test_ports_announced_with_a_batch_go_with_its_apply_at_once() -> None:
    """A standalone container's ports (plugged only after its start) reach the backend with
    the batch's apply, which then does not wait for a plug to load the rules."""
    backend = Recorder()
    net_keeper = NetworkKeeper(backend, OwnPid("h"))
    try:
        await carry(net_keeper, 1, A)
        backend.loads.clear()
        net_keeper.want(HostNetworks(revision=2, networks=[A], dns={"a": []}))
        net_keeper.expect("container", [_port("a")])
        await net_keeper.sync()
        assert backend.expected == ["p1"]
        assert backend.loads == ["apply"]
        await net_keeper.plug("container", "engine-id", [_port("a")])
        await net_keeper.sync()
        assert backend.expected == ["p1"]  # plugged: nothing new to announce, no apply
        net_keeper.want(HostNetworks(revision=3, networks=[A]))
        await net_keeper.sync()
        assert backend.expected == []
    finally:
        net_keeper.close()


async def test_owners_going_together_are_unplugged_in_few_disconnects() -> None:
    """A burst of deletes: the ports of owners going meanwhile leave in one disconnect (one
    rules load) per round, not one each; every unplug returns once its ports are gone."""
    backend = Recorder()
    net_keeper = NetworkKeeper(backend, OwnPid("h"))
    try:
        await carry(net_keeper, 1, A)
        for i in range(6):
            binding = _port("a").model_copy(update={"port_id": f"p{i}"})
            await net_keeper.plug(f"owner-{i}", "engine-id", [binding])
        await asyncio.gather(*(net_keeper.unplug(f"owner-{i}") for i in range(6)))
        assert sorted(p for call in backend.disconnected for p in call) == [
            f"p{i}" for i in range(6)
        ]
        assert len(backend.disconnected) <= 2
    finally:
        net_keeper.close()
