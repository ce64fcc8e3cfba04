"""Deleting a network while containers are being created on it (two replicas, one database).

On PostgreSQL a create locks the network's subnets to pick an address and its new port then
needs the network row; the delete locks the network row and then its subnets go with it. Each
race must end as one of two clear outcomes, never a deadlock (a 500) nor anything half made:
the creates win (the delete is a 409, the network in use), or the delete wins (each create
that lost is a 404 for the network, leaving no container behind).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from dockyard.db.tables import ContainerRow
from dockyard.errors import NetworkInUse, NetworkNotFound
from dockyard.schemas.networks import NetworkCreate, SubnetCreate
from dockyard.services.networks import NetworkService
from tests.services.conftest import Stack
from tests.services.test_project_defaults import member, pair, spec

__all__ = ["pair"]  # the fixture, used by name

ROUNDS = 12
CREATES = 6


async def test_a_network_deleted_while_creates_use_it_is_in_use_or_gone_never_a_deadlock(
    pair: tuple[Stack, Stack],
) -> None:
    ctx = member("p-race")
    networks = NetworkService(pair[0].containers.sessions)
    for turn in range(ROUNDS):
        network = await networks.create_network(ctx, NetworkCreate(name=f"doomed-{turn}"))
        await networks.create_subnet(
            ctx, SubnetCreate(network_id=network.uuid, cidr=f"10.81.{turn}.0/24")
        )
        nets = [{"network": network.uuid}]
        creates = [
            pair[i % 2].containers.create(
                ctx, spec(f"r{turn}-{i}", nets=nets), run=True, legacy_command=False
            )
            for i in range(CREATES)
        ]
        deleting = NetworkService(pair[turn % 2].containers.sessions).delete_network(
            ctx, network.uuid
        )
        *made, deleted = await asyncio.gather(*creates, deleting, return_exceptions=True)
        for result in [*made, deleted]:
            assert not isinstance(result, Exception) or isinstance(
                result, NetworkInUse | NetworkNotFound
            ), repr(result)
        created = [r for r in made if isinstance(r, ContainerRow)]
        if isinstance(deleted, NetworkInUse):  # the creates won (PostgreSQL: some turns)
            assert created, "in use by no container"
        else:
            assert created == [], "a container on a deleted network"
        async with pair[0].containers.sessions() as session:
            names = ContainerRow.name.like(f"r{turn}-%")
            count = await session.scalar(select(func.count()).where(names))
        assert count == len(created)
