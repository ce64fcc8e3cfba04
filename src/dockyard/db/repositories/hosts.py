"""Host rows: registration, heartbeats, the watch revision and atomic resource claims."""

from __future__ import annotations

import builtins
import uuid as uuidlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from dockyard.db.changes import HOSTS, publish
from dockyard.db.tables import CapsuleRow, ContainerRow, HostRow
from dockyard.errors import HostNotFound
from dockyard.scheduler.filters import CPU_SLACK


@dataclass(frozen=True)
class Claim:
    """Resources to take on a host, and the overcommit ratios its limits are computed with."""

    cpu: float
    memory: int  # MiB
    disk: int  # GiB
    cpu_ratio: float
    ram_ratio: float
    disk_ratio: float


class HostUsage(NamedTuple):
    cpu_used: float
    mem_used: int
    disk_used: int
    revision: int


class HostRevisions(NamedTuple):
    revision: int  # moves with every change its agent must hear of
    network_revision: int  # the revision at which its networks last changed
    network_touched: int  # the revision of the last change that may move them
    credential_hash: str | None  # read along: a long-poll checks its caller's credential


class HostState(NamedTuple):
    """The columns placement reads, in one tuple per host."""

    uuid: str
    hostname: str
    cpus: int
    mem_total: int
    disk_total: int
    cpu_used: float
    mem_used: int
    disk_used: int
    availability_zone: str
    runtimes: list[str]
    labels: dict[str, str]
    disabled: bool
    forced_down: bool
    last_heartbeat_at: datetime
    updated_at: datetime


async def credential_owner(
    connection: AsyncConnection | AsyncSession, credential_hash: str
) -> str | None:
    """The uuid of the host whose credential has this hash (a Core read: it runs on every
    agent request)."""
    stmt = select(HostRow.uuid).where(HostRow.credential_hash == credential_hash)
    return (await connection.execute(stmt)).scalar()


class HostRepository:
    """Hosts belong to the operator, not to a project, so no TenantScope applies."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, ident: str) -> HostRow | None:
        try:
            uuidlib.UUID(ident)
            column = HostRow.uuid
        except ValueError:
            column = HostRow.hostname
        return await self.session.scalar(select(HostRow).where(column == ident))

    async def get(self, ident: str) -> HostRow:
        row = await self.find(ident)
        if row is None:
            raise HostNotFound(ident=ident)
        return row

    async def revisions(self, host_uuid: str) -> HostRevisions:
        """The host's watch and network revisions alone: an agent's long-poll reads them on
        every wake-up, and the whole row (labels and all) took ≈3 ms of CPU with its session
        instead of ≈1.8 here."""
        stmt = select(
            HostRow.revision, HostRow.network_revision, HostRow.network_touched,
            HostRow.credential_hash,
        ).where(HostRow.uuid == host_uuid)  # fmt: skip
        row = (await self.session.execute(stmt)).first()
        if row is None:
            raise HostNotFound(ident=host_uuid)
        return HostRevisions(int(row[0]), int(row[1]), int(row[2]), row[3])

    async def find_by_hostname(self, hostname: str, *, for_update: bool = False) -> HostRow | None:
        stmt = select(HostRow).where(HostRow.hostname == hostname)
        return await self.session.scalar(stmt.with_for_update() if for_update else stmt)

    async def list(self, limit: int | None = None, marker: str | None = None) -> Sequence[HostRow]:
        """Hosts by name; with a marker (a host's uuid or name), those after it."""
        stmt = select(HostRow).order_by(HostRow.hostname)
        if marker is not None:
            after = await self.find(marker)
            if after is not None:
                stmt = stmt.where(HostRow.hostname > after.hostname)
        if limit is not None:
            stmt = stmt.limit(limit)
        return (await self.session.scalars(stmt)).all()

    async def count_containers(self) -> dict[str, int]:
        """Containers placed on each host (capsule members included), by host uuid."""
        stmt = (
            select(ContainerRow.host_uuid, func.count())
            .where(ContainerRow.host_uuid.is_not(None))
            .group_by(ContainerRow.host_uuid)
        )
        return {str(host): int(count) for host, count in (await self.session.execute(stmt)).all()}

    async def delete(self, row: HostRow) -> None:
        """Drop the host; capsules still naming it are left host-less (their rows stay).

        The host's open watch (on whichever replica holds it) wakes at commit, and ends.
        """
        publish(self.session, HOSTS, row.uuid)
        await self.session.execute(
            update(CapsuleRow).where(CapsuleRow.host_uuid == row.uuid).values(host_uuid=None)
        )
        await self.session.execute(delete(HostRow).where(HostRow.uuid == row.uuid))

    async def list_up(self, seen_since: datetime) -> Sequence[HostRow]:
        stmt = select(HostRow).where(
            HostRow.last_heartbeat_at >= seen_since, HostRow.disabled.is_(False)
        )
        return (await self.session.scalars(stmt)).all()

    def add(self, row: HostRow) -> None:
        self.session.add(row)

    async def touch(self, host_uuid: str, now: datetime, cpu_observed: float | None = None) -> bool:
        values: dict[str, Any] = {"last_heartbeat_at": now,
                                  "report_count": HostRow.report_count + 1}  # fmt: skip
        if cpu_observed is not None:
            values["cpu_observed"] = cpu_observed
        result = await self.session.execute(
            update(HostRow).where(HostRow.uuid == host_uuid).values(**values)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def lock_if_free(self, host_uuid: str) -> bool:
        """Lock the host's row unless another transaction holds it (False then, at once).

        For a placer that must never wait for a host row: a create holds its network's
        locks by then, and a wait could close a cycle with writers that lock several hosts.
        SQLite has no row locks (its one writer is alone): always True there.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return True
        stmt = (
            select(HostRow.uuid).where(HostRow.uuid == host_uuid).with_for_update(skip_locked=True)
        )
        return (await self.session.scalar(stmt)) is not None

    async def bump_revision(self, host_uuid: str, *, network: bool = True) -> int:
        """Take the host's next watch revision; the row lock orders concurrent writers.

        The host's agent watch (on whichever replica holds it) wakes when this commits.
        `network=False` only for a change that cannot move what the host carries of tenant
        networks (a status, a delete asked for): its networks are then not computed again.
        """
        moved = {"network_touched": HostRow.revision + 1} if network else {}
        revision = await self.session.scalar(
            update(HostRow)
            .where(HostRow.uuid == host_uuid)
            .values(revision=HostRow.revision + 1, **moved)
            .returning(HostRow.revision)
        )
        if revision is None:
            raise HostNotFound(ident=host_uuid)
        publish(self.session, HOSTS, host_uuid)
        return int(revision)

    async def claim(
        self, host_uuid: str, want: Claim, seen_since: datetime | None = None
    ) -> HostUsage | None:
        """Add want to the host's usage if it stays within its limits, and take the host's
        next watch revision; the new usage, or None when the host cannot take it.

        One conditional UPDATE, atomic on every dialect (PostgreSQL re-checks the WHERE on
        the newest row after waiting for its lock; SQLite holds the write lock), so racing
        placers, in one replica or several, cannot both take the last room. With
        seen_since the host must also be up and enabled at that moment, whatever a
        replica's in-memory view of it said.
        """
        conditions = [
            HostRow.uuid == host_uuid,
            HostRow.cpu_used + want.cpu <= HostRow.cpus * want.cpu_ratio + CPU_SLACK,
            HostRow.mem_used + want.memory <= HostRow.mem_total * want.ram_ratio,
        ]
        if want.disk:
            conditions.append(HostRow.disk_used + want.disk <= HostRow.disk_total * want.disk_ratio)
        if seen_since is not None:
            conditions += [
                HostRow.last_heartbeat_at >= seen_since,
                HostRow.disabled.is_(False),
                HostRow.forced_down.is_(False),
            ]
        result = await self.session.execute(
            update(HostRow)
            .where(*conditions)
            .values(
                cpu_used=HostRow.cpu_used + want.cpu,
                mem_used=HostRow.mem_used + want.memory,
                disk_used=HostRow.disk_used + want.disk,
                revision=HostRow.revision + 1,
                network_touched=HostRow.revision + 1,  # a placed container brings its ports
            )
            .returning(HostRow.cpu_used, HostRow.mem_used, HostRow.disk_used, HostRow.revision)
        )
        row = result.first()
        if row is None:
            return None
        publish(self.session, HOSTS, host_uuid)  # the revision moved: wake its watch
        return HostUsage(*row)

    async def state(self, host_uuid: str) -> HostState | None:
        stmt = select(*(getattr(HostRow, name) for name in HostState._fields))
        row = (await self.session.execute(stmt.where(HostRow.uuid == host_uuid))).first()
        return None if row is None else HostState(*row)

    async def states(
        self, changed_after: datetime | None, also: Collection[str] = ()
    ) -> builtins.list[HostState]:
        """What placement needs of each host changed after changed_after (all for None),
        plus the hosts in `also`; plain tuples, because a replica reads thousands at once."""
        stmt = select(*(getattr(HostRow, name) for name in HostState._fields))
        if changed_after is not None:
            changed = HostRow.updated_at > changed_after
            stmt = stmt.where(or_(changed, HostRow.uuid.in_(also)) if also else changed)
        return [HostState(*row) for row in (await self.session.execute(stmt)).all()]

    async def states_of(self, host_uuids: Collection[str]) -> builtins.list[HostState]:
        """What placement needs of just these hosts (those gone are left out)."""
        if not host_uuids:
            return []
        stmt = select(*(getattr(HostRow, name) for name in HostState._fields))
        rows = await self.session.execute(stmt.where(HostRow.uuid.in_(sorted(host_uuids))))
        return [HostState(*row) for row in rows.all()]

    async def release(
        self, host_uuid: str, cpu: float, memory: int, *, touch: bool = False
    ) -> None:
        """Give back what a container or sandbox held. With `touch`, the same UPDATE takes
        the host's next watch revision as bump_revision (network=True) does: an agent's
        "gone" report did both, one statement each, on the same row. A removed host is
        left alone (as touch_hosts leaves it)."""
        values: dict[str, Any] = {
            "cpu_used": HostRow.cpu_used - cpu, "mem_used": HostRow.mem_used - memory
        }  # fmt: skip
        if touch:
            values.update(revision=HostRow.revision + 1, network_touched=HostRow.revision + 1)
        await self.session.execute(
            update(HostRow).where(HostRow.uuid == host_uuid).values(**values)
        )
        if touch:
            publish(self.session, HOSTS, host_uuid)
