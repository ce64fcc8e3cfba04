"""A project's default network and `default` security group: made once, on first use, each
in a short transaction of its own, before the request that needs them opens its own.

Two requests (on one replica or two) that both find a project without them may both try to
make them: a unique index per project (the default network: project_id where is_default;
the default group: project_id where name = 'default') lets exactly one insert commit, and the
loser reads the winner's. The create that needed them then only looks them up, so it never
fails on this race nor holds these rows' locks while it runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.networks_tables import NetworkRow, SecurityGroupRow, SubnetRow
from dockyard.db.repositories.networks import NetworkRepository
from dockyard.db.repositories.security_groups import SecurityGroupRepository
from dockyard.db.tables import new_uuid
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import Conflict, DuplicateEntry
from dockyard.services import ipam
from dockyard.services.networks import DEFAULT_CIDR, DEFAULT_NETWORK, new_network
from dockyard.services.secgroup_rows import DEFAULT, new_group, rule_row

# A lost race costs one more read; a repeat beyond that is a VNI drawn twice (1 in 16 M).
_TRIES = 4

Finder = Callable[[Session, str], Awaitable[Any]]


# Per database (its session factory): the projects whose defaults this process has made or
# found, as (project, with the network). A container create, the hot path, then skips the
# look-up (1.5 ms of reads on SQLite); it meets a default deleted since (the owner may delete
# an unused default network) as ProjectDefaultMissing, forgets the project and asks again.
_SEEN: WeakKeyDictionary[Sessions, set[tuple[str, bool]]] = WeakKeyDictionary()


async def ensure_project_defaults(
    sessions: Sessions, project_id: str, *, network: bool, cached: bool = False
) -> None:
    """Make the project's default security group, and its default network too when
    `network`, unless they exist. Reads only, when they do (the usual case); nothing at all
    when `cached` and this process saw them already."""
    seen = _SEEN.setdefault(sessions, set())
    if cached and ((project_id, network) in seen or (project_id, True) in seen):
        return
    wanted: list[tuple[Finder, Finder]] = [(find_default_group, make_default_group)]
    if network:
        wanted.append((find_default_network, make_default_network))
    async with sessions() as session:
        missing = [(find, make) for find, make in wanted if await find(session, project_id) is None]
    for find, make in missing:
        await _get_or_create(sessions, project_id, find, make)
    seen.add((project_id, network))


def forget_project_defaults(sessions: Sessions, project_id: str) -> None:
    """The next cached ensure of the project looks again (one of its defaults was gone)."""
    seen = _SEEN.get(sessions, set())
    seen.discard((project_id, True))
    seen.discard((project_id, False))


async def _get_or_create(sessions: Sessions, project_id: str, find: Finder, make: Finder) -> None:
    for _ in range(_TRIES):
        try:
            async with transaction(sessions) as session:
                # SQLite: the write lock is held from here, so this check decides. PostgreSQL:
                # a concurrent insert may pass it too; the unique index refuses the second.
                if await find(session, project_id) is None:
                    await make(session, project_id)
            return
        except DuplicateEntry:  # another request's default committed first: look again
            continue
    raise Conflict(f"Could not make the default network objects of project {project_id}; "
                   "try again.")  # fmt: skip


async def find_default_network(session: Session, project_id: str) -> NetworkRow | None:
    return await NetworkRepository(session, TenantScope(project_id)).find_default(project_id)


async def find_default_group(session: Session, project_id: str) -> SecurityGroupRow | None:
    repo = SecurityGroupRepository(session, TenantScope(project_id))
    return await repo.find_named(project_id, DEFAULT)


async def make_default_network(session: Session, project_id: str) -> NetworkRow:
    """The project's default network (DEFAULT_CIDR; overlaps with other projects' are fine)
    and its subnet."""
    row = await new_network(session, project_id, name=DEFAULT_NETWORK, is_default=True)
    net = ipam.network_of(DEFAULT_CIDR)
    gateway = ipam.default_gateway(net)
    subnet = SubnetRow(
        uuid=new_uuid(), project_id=project_id, network_uuid=row.uuid, name=DEFAULT_NETWORK,
        cidr=str(net), gateway_ip=gateway, allocation_pools=ipam.default_pools(net, gateway),
    )  # fmt: skip
    session.add(subnet)
    await session.flush()
    return row


async def make_default_group(session: Session, project_id: str) -> SecurityGroupRow:
    """Neutron's `default` group: everything may go out, its own members may come in."""
    desc = "Default security group"
    group: SecurityGroupRow = await new_group(session, project_id, DEFAULT, description=desc)
    session.add_all([rule_row(group, "ingress", e, remote_group_uuid=group.uuid)
                     for e in ("IPv4", "IPv6")])  # fmt: skip
    await session.flush()
    return group
