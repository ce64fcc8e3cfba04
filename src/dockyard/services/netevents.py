"""Telling hosts that what they carry of tenant networks may have changed.

A host's networks are recomputed when its agent next reads its assignments; a change made
here (an address taken or freed, a rule, a subnet) only needs to wake the watches of the
hosts that carry the network, by moving their watch revision in the same transaction.
"""

from __future__ import annotations

from collections.abc import Collection

from dockyard.db.engine import Session
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.ports import PortRepository
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import HostNotFound


async def touch_hosts(
    session: Session, hosts: Collection[str], *, recorded: str | None = None
) -> dict[str, int]:
    """Move the watch revision of each host (in uuid order: row locks in one order); the
    new revisions. A writer that bumps its own host among others bumps them all here.
    `recorded` is the host whose networks the transaction records (hostnetworks): its
    watch wakes to send them, but they moved with nothing it must compute again.

    A host removed since it was read is left out: it has no watch left to wake.
    """
    repo = HostRepository(session)
    found: dict[str, int] = {}
    for host in sorted(set(hosts)):
        try:
            found[host] = await repo.bump_revision(host, network=host != recorded)
        except HostNotFound:
            continue
    return found


async def touch_networks(session: Session, networks: Collection[str]) -> None:
    """Wake every host that carries one of the networks."""
    ports = PortRepository(session, TenantScope.all_projects())
    await touch_hosts(session, await ports.hosts_of_networks(networks))


async def touch_groups(session: Session, groups: Collection[str]) -> None:
    """Wake every host with a member of one of the security groups."""
    ports = PortRepository(session, TenantScope.all_projects())
    await touch_networks(session, await ports.networks_of_groups(groups))
