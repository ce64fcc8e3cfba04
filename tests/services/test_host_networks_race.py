"""Two hosts of one network record their networks at once (two replicas, one database).

Each record moves the host's own revision and wakes the other host of the network. On
PostgreSQL those are row locks: taken own-host-first, host A's record (A, then B) and host
B's (B, then A) deadlocked, and the database aborted one (the agent saw a 500). Both must
always succeed, and both hosts' network revisions move.
"""

from __future__ import annotations

import asyncio

from dockyard.db.repositories.hosts import HostRepository
from dockyard.domain.tenancy import RequestContext
from dockyard.schemas.networks import NetworkCreate, SubnetCreate
from dockyard.services.hostnetworks import sync_host_networks
from dockyard.services.networks import NetworkService
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration
from tests.services.test_project_defaults import pair, spec

__all__ = ["pair"]  # the fixture, used by name

ADMIN = RequestContext(project_id="p-hn", user_id="u", roles=frozenset({"admin"}), policy=Policy())
ROUNDS = 12


async def _network_revision(stack: Stack, host_uuid: str) -> int:
    async with stack.containers.sessions() as session:
        return (await HostRepository(session).get(host_uuid)).network_revision


async def test_two_hosts_of_one_network_record_their_networks_at_once_without_a_deadlock(
    pair: tuple[Stack, Stack],
) -> None:
    names = ["hn-0", "hn-1"]
    hosts = [await pair[0].hosts.register(registration(name, cpus=8)) for name in names]
    networks = NetworkService(pair[0].containers.sessions)
    network = await networks.create_network(ADMIN, NetworkCreate(name="shared"))
    await networks.create_subnet(ADMIN, SubnetCreate(network_id=network.uuid, cidr="10.82.0.0/24"))
    nets = [{"network": network.uuid}]
    for turn in range(ROUNDS):
        for name, host in zip(names, hosts, strict=True):  # a new port on each host
            row = await pair[0].containers.create(
                ADMIN, spec(f"t{turn}-{name}", nets=nets, host=name),
                run=False, legacy_command=False,
            )  # fmt: skip
            (row,) = await pair[0].placed(ADMIN, row)
            assert row.host_uuid == host.uuid
        before = [await _network_revision(pair[0], h.uuid) for h in hosts]
        records = [
            sync_host_networks(stack.containers.sessions, host.uuid)
            for stack, host in zip(pair, hosts, strict=True)
        ]
        done = await asyncio.gather(*records, return_exceptions=True)
        assert not [r for r in done if isinstance(r, BaseException)], done
        after = [await _network_revision(pair[0], h.uuid) for h in hosts]
        assert all(a > b for a, b in zip(after, before, strict=True)), (before, after)
