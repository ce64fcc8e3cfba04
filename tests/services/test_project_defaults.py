"""A project's default network and default security group: made once, whoever races.

Two replicas on one database (SQLite: two engines on one file; PostgreSQL: where reads do
not wait for uncommitted inserts, so both replicas can find the project without them) take
many first creates of a new project at once: exactly one default network (with one subnet)
and one `default` group come out, every create succeeds, and every container sits on that
network with an address of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dockyard.db.engine import transaction
from dockyard.db.networks_tables import NetworkRow, SecurityGroupRow, SubnetRow
from dockyard.db.tables import ContainerRow
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import DuplicateEntry
from dockyard.schemas.containers import ContainerCreate
from dockyard.schemas.networks import NetworkCreate, SubnetCreate
from dockyard.services.networks import NetworkService
from dockyard.services.policy import Policy
from dockyard.services.project_defaults import make_default_group, make_default_network
from dockyard.services.security_groups import SecurityGroupService
from tests.services.conftest import Stack, quiet_replicas

FIRST_CREATES = 40


def member(project: str) -> RequestContext:
    return RequestContext(
        project_id=project, user_id="u", roles=frozenset({"member"}), policy=Policy()
    )


def spec(name: str, **extra: Any) -> ContainerCreate:
    return ContainerCreate(name=name, image="img", command=["true"], cpu=0.1, memory=16,
                           sandbox_mode="standalone", **extra)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Stack, Stack]]:
    """Two replicas on one database, schedulers stopped (nothing to place here), no quota."""
    async with quiet_replicas(request.param, tmp_path) as pair:
        yield pair


async def _count(stack: Stack, stmt: Any) -> int:
    async with stack.containers.sessions() as session:
        return int(await session.scalar(stmt) or 0)


async def _defaults(stack: Stack, project: str) -> tuple[Sequence[NetworkRow], int, int]:
    """(the project's default networks, their subnets, its `default` groups)."""
    async with stack.containers.sessions() as session:
        networks = (
            await session.scalars(
                select(NetworkRow).where(
                    NetworkRow.project_id == project, NetworkRow.is_default.is_(True)
                )
            )
        ).all()
    subnets = await _count(
        stack,
        select(func.count())
        .select_from(SubnetRow)
        .where(SubnetRow.network_uuid.in_([n.uuid for n in networks])),
    )
    groups = await _count(
        stack,
        select(func.count())
        .select_from(SecurityGroupRow)
        .where(SecurityGroupRow.project_id == project, SecurityGroupRow.name == "default"),
    )
    return networks, subnets, groups


async def test_many_first_creates_through_two_replicas_make_one_default_network_and_group(
    pair: tuple[Stack, Stack],
) -> None:
    ctx = member("fresh-project")
    rows: list[ContainerRow] = await asyncio.gather(
        *(
            pair[i % 2].containers.create(ctx, spec(f"first-{i}"), run=True, legacy_command=False)
            for i in range(FIRST_CREATES)
        )
    )
    networks, subnets, groups = await _defaults(pair[0], "fresh-project")
    assert (len(networks), subnets, groups) == (1, 1, 1)
    (network,) = networks
    addresses = [r.addresses for r in rows]
    assert all(a is not None and list(a) == [network.uuid] for a in addresses)
    taken = {entry["addr"] for a in addresses if a for entry in a[network.uuid]}
    assert len(taken) == FIRST_CREATES  # one address each, none shared
    assert all(r.spec.security_groups == ["default"] for r in rows)


async def test_listing_groups_while_creating_makes_one_default_group(
    pair: tuple[Stack, Stack],
) -> None:
    """Neutron's group list shows `default` from the start: listing makes it too, so lists
    and creates race for it as well."""
    ctx = member("listing-project")
    groups = [SecurityGroupService(s.containers.sessions) for s in pair]
    work: list[Any] = []
    for i in range(10):
        work.append(groups[i % 2].list_groups(ctx, {}))
        work.append(
            pair[i % 2].containers.create(ctx, spec(f"l-{i}"), run=False, legacy_command=False)
        )
    done = await asyncio.gather(*work)
    listed = [d for d in done if isinstance(d, list)]
    assert all([g.name for g, _ in found] == ["default"] for found in listed)
    assert len({found[0][0].uuid for found in listed}) == 1
    networks, subnets, count = await _defaults(pair[0], "listing-project")
    assert (len(networks), subnets, count) == (1, 1, 1)


async def test_the_unique_indexes_refuse_a_second_default(pair: tuple[Stack, Stack]) -> None:
    """What makes the race safe: the database itself refuses a second default network or
    `default` group in one project (and not in another project)."""
    sessions = pair[0].containers.sessions
    for make in (make_default_network, make_default_group):
        async with transaction(sessions) as session:
            await make(session, "p-index")
        with pytest.raises(DuplicateEntry):
            async with transaction(sessions) as session:
                await make(session, "p-index")
        async with transaction(sessions) as session:
            await make(session, "p-other")  # another project has its own
    networks, subnets, groups = await _defaults(pair[0], "p-index")
    assert (len(networks), subnets, groups) == (1, 1, 1)


async def test_a_create_after_the_default_network_was_deleted_makes_a_new_one(
    pair: tuple[Stack, Stack],
) -> None:
    """The default network is its project's to delete (when unused); the next create that
    needs it makes another."""
    first, second = pair
    ctx = member("p-again")
    row = await first.containers.create(ctx, spec("one"), run=False, legacy_command=False)
    (row,) = await first.placed(ctx, row)  # no host: Error, which may be deleted
    (old,), _, _ = await _defaults(first, "p-again")
    await first.containers.delete(ctx, row.uuid, force=False, stop=False, all_projects=False)
    await NetworkService(first.containers.sessions).delete_network(ctx, old.uuid)
    # `first` saw the old one: its create meets the gap inside its transaction, looks
    # again and makes a new default network; `second` then finds that one
    again = await first.containers.create(ctx, spec("two"), run=False, legacy_command=False)
    more = await second.containers.create(ctx, spec("three"), run=False, legacy_command=False)
    (new,), subnets, groups = await _defaults(first, "p-again")
    assert more.addresses is not None
    assert list(more.addresses) == [new.uuid]
    assert new.uuid != old.uuid
    assert (subnets, groups) == (1, 1)
    assert again.addresses is not None
    assert list(again.addresses) == [new.uuid]


async def test_many_creates_on_one_small_subnet_through_two_replicas_all_get_an_address(
    pair: tuple[Stack, Stack],
) -> None:
    """The lowest free address of a /24 is what every concurrent create picks first: on
    PostgreSQL the losers of that race must pick again, never fail nor share one."""
    ctx = member("p-small")
    networks = NetworkService(pair[0].containers.sessions)
    network = await networks.create_network(ctx, NetworkCreate(name="small"))
    await networks.create_subnet(ctx, SubnetCreate(network_id=network.uuid, cidr="10.80.0.0/24"))
    nets = [{"network": network.uuid}]
    rows: list[ContainerRow] = await asyncio.gather(*(
        pair[i % 2].containers.create(ctx, spec(f"s-{i}", nets=nets), run=True,
                                      legacy_command=False)
        for i in range(FIRST_CREATES)
    ))  # fmt: skip
    taken = [e["addr"] for r in rows for e in (r.addresses or {})[network.uuid]]
    assert sorted(taken, key=lambda a: int(a.rsplit(".", 1)[1])) == [
        f"10.80.0.{i}" for i in range(2, 2 + FIRST_CREATES)
    ]
