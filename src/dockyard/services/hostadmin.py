"""The operator's view of hosts: Zun's services (enable, disable, force down, delete) and AZs.

Zun models a compute host twice, as a host and as its `zun-compute` service; Dockyard has one
host row, and a service is that row seen through Zun's service fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.containers import ContainerRepository
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.ports import PortRepository
from dockyard.db.repositories.sandboxes import SandboxRepository
from dockyard.db.tables import HostRow
from dockyard.domain.containers import DesiredState, Status
from dockyard.domain.quotas import Usage
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import InvalidValue, ZunServiceNotFound
from dockyard.services import quotas
from dockyard.services.actions import record_host_outcome
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.hostnetworks import recorded_networks
from dockyard.services.netevents import touch_hosts, touch_networks
from dockyard.services.sandboxes import forget_sandbox

COMPUTE = "zun-compute"
_SYSTEM = TenantScope.all_projects()


@dataclass
class HostAdmin:
    sessions: Sessions
    directory: HostDirectory

    async def list_hosts(
        self, limit: int | None = None, marker: str | None = None
    ) -> tuple[Sequence[HostRow], dict[str, int]]:
        """Hosts by name, and how many containers each holds."""
        async with self.sessions() as session:
            hosts = HostRepository(session)
            return await hosts.list(limit, marker), await hosts.count_containers()

    async def count_containers(self, host_uuid: str) -> int:
        async with self.sessions() as session:
            return (await HostRepository(session).count_containers()).get(host_uuid, 0)

    async def availability_zones(self) -> list[str]:
        async with self.sessions() as session:
            rows = await HostRepository(session).list()
        return sorted({row.availability_zone for row in rows})

    async def set_disabled(
        self, host: str, binary: str, disabled: bool, reason: str | None
    ) -> HostRow:
        """Enable or disable scheduling onto a host (its running containers are untouched)."""
        async with transaction(self.sessions) as session:
            row = await _service(session, host, binary)
            row.disabled = disabled
            row.disabled_reason = reason if disabled else None
        self.directory.invalidate()
        return row

    async def set_forced_down(self, host: str, binary: str, forced_down: bool) -> HostRow:
        """Declare a host down whatever its heartbeats say (e.g. it is known to be dead)."""
        async with transaction(self.sessions) as session:
            row = await _service(session, host, binary)
            row.forced_down = forced_down
        self.directory.invalidate()
        return row

    async def remove(self, host: str, binary: str) -> str:
        """Remove a host: its credential dies with the row; returns the host's uuid.

        Containers already being deleted are finished here (rows gone, quota released);
        the others stay, in Error, with no host: their owners see why and may delete them.
        The host's resource charges vanish with the host itself.
        """
        async with transaction(self.sessions) as session:
            # Locked before its containers are read, as the scheduler locks a host before it
            # claims it: a placement committing meanwhile is then seen (and orphaned) below,
            # and one that comes later finds no host; else the DELETE would meet its
            # container (FK error, 500).
            await _lock_with_peers(session, host, binary)
            row = await _service(session, host, binary, for_update=True)
            carried = recorded_networks(row)
            releases = await _orphan_containers(session, row)
            await _orphan_sandboxes(session, row)
            await HostRepository(session).delete(row)
            # Its ports now have no host: the other hosts of its networks drop it from their
            # peers (FDB) and its containers' names at once, not at their next full resync.
            await touch_networks(session, carried)
            for project_id, usage in releases:  # quota last: the order creates lock in
                await quotas.release(session, project_id, usage)
            host_uuid = row.uuid
        self.directory.invalidate()
        return host_uuid


async def _service(
    session: Session, host: str, binary: str, *, for_update: bool = False
) -> HostRow:
    if not host:
        raise InvalidValue("The host parameter is required.")
    row = await HostRepository(session).find_by_hostname(host, for_update=for_update)
    if row is None or binary != COMPUTE:
        raise ZunServiceNotFound(binary=binary, host=host)
    return row


async def _lock_with_peers(session: Session, host: str, binary: str) -> None:
    """Lock (and wake) the host's row with those of the other hosts of its networks, in uuid
    order as every writer of several host rows does: locking its own first and waking the
    others after deadlocked with a peer recording its networks (PostgreSQL). A peer that
    joined since is woken below, after the removal, as before."""
    row = await _service(session, host, binary)
    ports = PortRepository(session, _SYSTEM)
    peers = await ports.hosts_of_networks(recorded_networks(row))
    if row.uuid not in await touch_hosts(session, peers | {row.uuid}):
        raise ZunServiceNotFound(binary=binary, host=host)  # removed meanwhile
    session.expire(row)  # read again under the lock: its networks may have moved since


def _removed(row: HostRow) -> str:
    return f"Host {row.hostname} was removed; the container no longer runs anywhere."


async def _orphan_containers(session: Session, host: HostRow) -> list[tuple[str, Usage]]:
    """Finish the host's deleted containers, put the others in Error; what to release."""
    repo = ContainerRepository(session, _SYSTEM)
    releases: list[tuple[str, Usage]] = []
    for container in await repo.list_for_host(host.uuid, -1):
        if container.desired_state == DesiredState.DELETED.value or container.auto_remove:
            if await repo.delete(container):
                releases.append((container.project_id, quotas.usage_of(container)))
            continue
        container.host_uuid = None
        container.status = Status.ERROR.value
        container.status_reason = _removed(host)
        container.task_state = None
        await record_host_outcome(
            session, [container.uuid], container.status_reason, "host_removed"
        )
    await session.flush()
    return releases


async def _orphan_sandboxes(session: Session, host: HostRow) -> None:
    repo = SandboxRepository(session, _SYSTEM)
    for sandbox in await repo.list_for_host(host.uuid, -1):
        if not await repo.count_members(sandbox.uuid):
            await forget_sandbox(session, sandbox)
            continue
        sandbox.host_uuid = None
        sandbox.status = Status.ERROR.value
        sandbox.status_reason = _removed(host)
    await session.flush()
