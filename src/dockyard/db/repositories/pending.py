"""What the batch scheduler reads and writes: pending containers taken with SKIP LOCKED,
claims on many hosts in one statement, and bulk assignment of hosts to containers."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.changes import CONTAINERS, HOSTS, SCHEDULE, publish
from dockyard.db.repositories.hosts import Claim, HostRepository, HostUsage
from dockyard.db.tables import ContainerRow, SandboxRow, utcnow
from dockyard.domain.containerspec import ContainerSpec
from dockyard.scheduler.filters import CPU_SLACK

# A container waits for a host while it has none and is still Creating (an unplaceable one
# is Error). The partial index ix_containers_pending holds exactly these rows.
CREATING = "Creating"
ERROR = "Error"


def _is_pending() -> Any:
    return ContainerRow.host_uuid.is_(None) & (ContainerRow.status == CREATING)


def wake_schedulers(session: AsyncSession) -> None:
    """At commit, every replica's scheduler (this one at once, others by NOTIFY) looks."""
    publish(session, SCHEDULE, "pending")


class PendingContainer(NamedTuple):
    uuid: str
    project_id: str
    spec: ContainerSpec
    sandbox_uuid: str | None


class PendingSandbox(NamedTuple):
    uuid: str
    host_uuid: str | None
    cpu: float
    memory: int


class Placement(NamedTuple):
    uuid: str
    host_uuid: str
    revision: int


class PendingRepository:
    """Scheduler-only access; rows are not scoped by project (the scheduler serves all)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, limit: int) -> list[PendingContainer]:
        """Up to limit pending containers, oldest first, locked for this transaction.

        SKIP LOCKED (PostgreSQL): replicas taking batches at once get disjoint ones. SQLite
        has no row locks; its BEGIN IMMEDIATE makes the whole batch exclusive.
        """
        stmt = (
            select(*(getattr(ContainerRow, name) for name in PendingContainer._fields))  # by name
            .where(_is_pending())
            .order_by(ContainerRow.created_at, ContainerRow.uuid)
            .limit(limit)
            .with_for_update(skip_locked=True, of=ContainerRow)
        )
        return [PendingContainer(*row) for row in (await self.session.execute(stmt)).all()]

    async def sandboxes(self, uuids: Collection[str]) -> dict[str, PendingSandbox]:
        """The sandboxes of a batch, locked (in uuid order: concurrent batches never deadlock)
        so that two replicas cannot both place one sandbox."""
        stmt = (
            select(SandboxRow.uuid, SandboxRow.host_uuid, SandboxRow.cpu, SandboxRow.memory)
            .where(SandboxRow.uuid.in_(sorted(uuids)))
            .order_by(SandboxRow.uuid)
            .with_for_update(of=SandboxRow)
        )
        rows = (await self.session.execute(stmt)).all()
        return {row[0]: PendingSandbox(*row) for row in rows}

    async def pending_members(self, sandbox_uuids: Collection[str]) -> dict[str, int]:
        """How many pending containers each sandbox has (locked by anyone or not)."""
        stmt = (
            select(ContainerRow.sandbox_uuid, func.count())
            .where(_is_pending(), ContainerRow.sandbox_uuid.in_(list(sandbox_uuids)))
            .group_by(ContainerRow.sandbox_uuid)
        )
        return {str(s): int(n) for s, n in (await self.session.execute(stmt)).all()}

    async def claim_many(
        self, wants: Mapping[str, Claim], seen_since: datetime
    ) -> dict[str, HostUsage]:
        """Add each host's want to its usage where it stays within its limits and the host is
        up and enabled; take each such host's next watch revision once. The new usage of
        every host whose claim held (the others are untouched).

        PostgreSQL: the hosts are locked in uuid order, then one UPDATE … FROM unnest(…)
        claims them all. Elsewhere one conditional UPDATE per host, in the same order.
        """
        if not wants:
            return {}
        order = sorted(wants)
        if self.session.get_bind().dialect.name != "postgresql":
            hosts = HostRepository(self.session)
            claimed = {u: await hosts.claim(u, wants[u], seen_since) for u in order}
            return {u: usage for u, usage in claimed.items() if usage is not None}
        await self.session.execute(
            text("SELECT 1 FROM hosts WHERE uuid = ANY(CAST(:u AS varchar[])) "
                 "ORDER BY uuid FOR UPDATE"), {"u": order}
        )  # fmt: skip
        ratios = wants[order[0]]
        result = await self.session.execute(
            _CLAIM_MANY,
            {
                "u": order,
                "c": [wants[u].cpu for u in order],
                "m": [wants[u].memory for u in order],
                "d": [wants[u].disk for u in order],
                "cr": ratios.cpu_ratio, "rr": ratios.ram_ratio, "dr": ratios.disk_ratio,
                "seen": seen_since, "now": utcnow(), "slack": CPU_SLACK,
            },
        )  # fmt: skip
        usages = {str(r[0]): HostUsage(float(r[1]), int(r[2]), int(r[3]), int(r[4]))
                  for r in result.all()}  # fmt: skip
        for host_uuid in usages:
            publish(self.session, HOSTS, host_uuid)  # its revision moved: wake its agent
        return usages

    async def assign(self, placements: Sequence[Placement]) -> None:
        """Set each container's host and revision (one executemany)."""
        await self._assign(ContainerRow, placements)

    async def assign_sandboxes(self, placements: Sequence[Placement]) -> None:
        await self._assign(SandboxRow, placements)

    async def _assign(
        self, table: type[ContainerRow] | type[SandboxRow], placements: Sequence[Placement]
    ) -> None:
        if placements:
            now = utcnow()
            await self.session.execute(
                update(table),
                [{"uuid": p.uuid, "host_uuid": p.host_uuid, "revision": p.revision,
                  "updated_at": now} for p in placements],
            )  # fmt: skip

    async def fail(self, uuids: Sequence[str], sandbox_uuids: Sequence[str], reason: str) -> None:
        """No host can take these: Error with reason (their waiters wake at commit)."""
        now = utcnow()
        if uuids:
            await self.session.execute(
                update(ContainerRow)
                .where(ContainerRow.uuid.in_(list(uuids)))
                .values(status=ERROR, status_reason=reason, task_state=None, updated_at=now)
            )
            for uuid in uuids:
                publish(self.session, CONTAINERS, uuid)
        if sandbox_uuids:
            await self.session.execute(
                update(SandboxRow)
                .where(SandboxRow.uuid.in_(list(sandbox_uuids)), SandboxRow.host_uuid.is_(None))
                .values(status=ERROR, status_reason=reason, updated_at=now)
            )


# Hosts and the wanted amounts as parallel arrays; the WHERE is HostRepository.claim's.
_CLAIM_MANY = text(
    """
    UPDATE hosts AS h SET
        cpu_used = h.cpu_used + v.cpu, mem_used = h.mem_used + v.mem,
        disk_used = h.disk_used + v.disk, revision = h.revision + 1,
        network_touched = h.revision + 1, updated_at = :now
    FROM unnest(CAST(:u AS varchar[]), CAST(:c AS float8[]), CAST(:m AS int[]),
                CAST(:d AS int[])) AS v(uuid, cpu, mem, disk)
    WHERE h.uuid = v.uuid
      AND h.cpu_used + v.cpu <= h.cpus * :cr + :slack
      AND h.mem_used + v.mem <= h.mem_total * :rr
      AND (v.disk = 0 OR h.disk_used + v.disk <= h.disk_total * :dr)
      AND h.last_heartbeat_at >= :seen AND NOT h.disabled AND NOT h.forced_down
    RETURNING h.uuid, h.cpu_used, h.mem_used, h.disk_used, h.revision
    """
)
