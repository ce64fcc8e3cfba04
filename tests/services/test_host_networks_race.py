"""Two hosts of one network record their networks at once (two replicas, one database).

Each record moves the host's own revision and wakes the other host of the network. On
PostgreSQL those are row locks: taken own-host-first, host A's record (A, then B) and host
B's (B, then A) deadlocked, and the database aborted one (the agent saw a 500). Both must
always succeed, and both hosts' network revisions move. Removing a host locked its own row
first and woke its peers after, the same cycle against a peer's record.
"""

from __future__ import annotations

import asyncio

from dockyard.db.repositories.hosts import HostRepository
from dockyard.domain.tenancy import RequestContext
from dockyard.schemas.networks import NetworkCreate, SubnetCreate
from dockyard.services.hostadmin import COMPUTE, HostAdmin
from dockyard.services.hostnetworks import sync_host_networks
from dockyard.services.networks import NetworkService
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration
from tests.services.test_project_defaults import pair, spec

__all__ = ["pair"]  # the fixture, used by name

ADMIN = RequestContext(project_id="p-hn", user_id="u", roles=frozenset({"admin"}), policy=Policy())
ROUNDS = 12


async def _shared_network(stack: Stack, name: str, cidr: str) -> list[dict[str, str]]:
    networks = NetworkService(stack.containers.sessions)
    network = await networks.create_network(ADMIN, NetworkCreate(name=name))
    await networks.create_subnet(ADMIN, SubnetCreate(network_id=network.uuid, cidr=cidr))
    return [{"network": network.uuid}]


async def _port_on(stack: Stack, name: str, host: str, nets: list[dict[str, str]]) -> None:
    row = await stack.containers.create(
        ADMIN, spec(name, nets=nets, host=host), run=False, legacy_command=False
    )
    (row,) = await stack.placed(ADMIN, row)
    assert row.host_uuid is not None


async def _network_revision(stack: Stack, host_uuid: str) -> int:
    async with stack.containers.sessions() as session:
        return (await HostRepository(session).get(host_uuid)).network_revision


async def test_two_hosts_of_one_network_record_their_networks_at_once_without_a_deadlock(
    pair: tuple[Stack, Stack],
) -> None:
    names = ["hn-0", "hn-1"]
    hosts = [await pair[0].hosts.register(registration(name, cpus=8)) for name in names]
    nets = await _shared_network(pair[0], "shared", "10.82.0.0/24")
    for turn in range(ROUNDS):
        for name in names:  # a new port on each host
            await _port_on(pair[0], f"t{turn}-{name}", name, nets)
        before = [await _network_revision(pair[0], h.uuid) for h in hosts]
        records = [
            sync_host_networks(stack.containers.sessions, host.uuid)
            for stack, host in zip(pair, hosts, strict=True)
        ]
        done = await asyncio.gather(*records, return_exceptions=True)
        assert not [r for r in done if isinstance(r, BaseException)], done
        after = [await _network_revision(pair[0], h.uuid) for h in hosts]
        assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)


async def test_a_host_removed_while_a_peer_records_its_networks_is_removed_without_a_deadlock(
    pair: tuple[Stack, Stack],
) -> None:
    admin = HostAdmin(pair[1].containers.sessions, pair[1].containers.directory)
    for turn in range(ROUNDS):
        names = [f"rm{turn}-a", f"rm{turn}-b"]
        registered = [await pair[0].hosts.register(registration(n, cpus=8)) for n in names]
        nets = await _shared_network(pair[0], f"rm-{turn}", f"10.83.{turn}.0/24")
        for name in names:
            await _port_on(pair[0], f"rm{turn}-{name}", name, nets)
        for host in registered:
            await sync_host_networks(pair[0].containers.sessions, host.uuid)
        # The peer sorts first: it locks its own row, then the removed host's.
        (peer, kept), (_, gone) = sorted(
            (h.uuid, n) for h, n in zip(registered, names, strict=True)
        )
        await _port_on(pair[0], f"rm{turn}-{kept}-2", kept, nets)  # the peer's record wakes
        done = await asyncio.gather(
            sync_host_networks(pair[0].containers.sessions, peer),
            admin.remove(gone, COMPUTE),
            return_exceptions=True,
        )
        assert not [r for r in done if isinstance(r, BaseException)], done
