"""Quota limits (per project, per class) and per-project usage counters; never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Table, case, delete, literal, select, union_all, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.tables import QuotaClassRow, QuotaRow, QuotaUsageRow, utcnow
from dockyard.domain.quotas import RESOURCES, UNLIMITED, Usage, limit_in_units

# The usage column of each resource (cpu is counted in thousandths).
_USAGE_COLUMNS: dict[str, Any] = {
    "containers": QuotaUsageRow.containers,
    "memory": QuotaUsageRow.memory,
    "cpu": QuotaUsageRow.cpu_millis,
    "disk": QuotaUsageRow.disk,
}


def _insert_or_merge(
    session: AsyncSession,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    merge: Sequence[str],
) -> Executable:
    """INSERT rows; a row whose key exists gets the `merge` columns (none: left alone).

    The database resolves the conflict, so two requests inserting the same key at once
    both succeed instead of one failing on the primary key.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(list(rows))
        if merge:
            return pg.on_conflict_do_update(
                index_elements=list(keys), set_={c: pg.excluded[c] for c in merge}
            )
        return pg.on_conflict_do_nothing(index_elements=list(keys))
    if dialect == "sqlite":
        lite = sqlite.insert(table).values(list(rows))
        if merge:
            return lite.on_conflict_do_update(
                index_elements=list(keys), set_={c: lite.excluded[c] for c in merge}
            )
        return lite.on_conflict_do_nothing(index_elements=list(keys))
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table).values(list(rows))
        # Setting the key to itself is MySQL's way of saying "do nothing" on a duplicate.
        return my.on_duplicate_key_update({c: my.inserted[c] for c in merge or keys[:1]})
    raise NotImplementedError(f"quota upserts are not written for {dialect}")


class QuotaRepository:
    """Limits are addressed by the project or class named in the request, not through a
    TenantScope: the quota service decides who may read or change which project's quota."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def project_limits(self, project_id: str) -> dict[str, int]:
        """The limits the project has of its own (resources without one are absent)."""
        rows = await self.session.execute(
            select(QuotaRow.resource, QuotaRow.hard_limit).where(QuotaRow.project_id == project_id)
        )
        return {resource: limit for resource, limit in rows}

    async def class_limits(self, class_name: str) -> dict[str, int]:
        """The limits the quota class sets (resources it does not set are absent)."""
        rows = await self.session.execute(
            select(QuotaClassRow.resource, QuotaClassRow.hard_limit).where(
                QuotaClassRow.class_name == class_name
            )
        )
        return {resource: limit for resource, limit in rows}

    async def class_and_project_limits(
        self, class_name: str, project_id: str
    ) -> tuple[dict[str, int], dict[str, int]]:
        """class_limits and project_limits in one statement (a create reads both in its
        transaction, on the POST's path)."""
        tag = literal(True).label("of_class")
        by_class = select(tag, QuotaClassRow.resource, QuotaClassRow.hard_limit).where(
            QuotaClassRow.class_name == class_name
        )
        own = select(literal(False), QuotaRow.resource, QuotaRow.hard_limit).where(
            QuotaRow.project_id == project_id
        )
        found: tuple[dict[str, int], dict[str, int]] = ({}, {})
        for of_class, resource, limit in await self.session.execute(union_all(by_class, own)):
            found[0 if of_class else 1][resource] = limit
        return found

    async def set_project_limits(self, project_id: str, limits: Mapping[str, int]) -> None:
        await self._set(QuotaRow.__table__, {"project_id": project_id}, limits)

    async def set_class_limits(self, class_name: str, limits: Mapping[str, int]) -> None:
        await self._set(QuotaClassRow.__table__, {"class_name": class_name}, limits)

    async def _set(self, table: Any, owner: dict[str, str], limits: Mapping[str, int]) -> None:
        if not limits:
            return
        now = utcnow()
        rows = [
            {**owner, "resource": resource, "hard_limit": limit, "created_at": now,
             "updated_at": now}
            for resource, limit in limits.items()
        ]  # fmt: skip
        keys = [*owner, "resource"]
        await self.session.execute(
            _insert_or_merge(self.session, table, rows, keys, ["hard_limit", "updated_at"])
        )

    async def delete_project_limits(self, project_id: str) -> None:
        await self.session.execute(delete(QuotaRow).where(QuotaRow.project_id == project_id))


class QuotaUsageRepository:
    """One counter row per project, changed only by relative, conditional UPDATEs."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, project_id: str) -> Usage | None:
        """The project's usage as stored now, or None before its first container."""
        columns = [_USAGE_COLUMNS[r] for r in ("containers", "cpu", "memory", "disk")]
        stmt = select(*columns).where(QuotaUsageRow.project_id == project_id)
        row = (await self.session.execute(stmt)).first()
        return Usage(*row) if row else None

    async def create_if_missing(self, project_id: str) -> None:
        """Start the project's counters at zero unless a row exists (or is being inserted by
        a concurrent transaction, which PostgreSQL waits for and SQLite serialises)."""
        row = {"project_id": project_id, "containers": 0, "cpu_millis": 0, "memory": 0,
               "disk": 0, "updated_at": utcnow()}  # fmt: skip
        table: Any = QuotaUsageRow.__table__
        await self.session.execute(_insert_or_merge(self.session, table, [row], ["project_id"], []))

    async def charge(self, project_id: str, change: Usage, limits: Mapping[str, int]) -> bool:
        """Add change to the project's usage unless a growing resource would pass its limit.

        One conditional UPDATE: it reads and writes the counters under the row lock
        (PostgreSQL re-checks the WHERE against the newest committed row after waiting;
        SQLite holds the database write lock), so two transactions racing for the last
        room cannot both get it. False: over a limit, or the project has no row yet.
        """
        amounts = change.in_units()
        conditions = [
            _USAGE_COLUMNS[r] + amounts[r] <= limit_in_units(r, limits[r])
            for r in RESOURCES
            if amounts[r] > 0 and limits[r] != UNLIMITED
        ]
        values = {_USAGE_COLUMNS[r].key: _USAGE_COLUMNS[r] + amounts[r] for r in RESOURCES}
        result = await self.session.execute(
            update(QuotaUsageRow)
            .where(QuotaUsageRow.project_id == project_id, *conditions)
            .values(**values, updated_at=utcnow())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, project_id: str, amount: Usage) -> None:
        """Take amount off the project's usage, never below zero (a counter below zero would
        grant room nobody paid for)."""
        amounts = amount.in_units()
        values = {
            _USAGE_COLUMNS[r].key: case(
                (_USAGE_COLUMNS[r] < amounts[r], 0), else_=_USAGE_COLUMNS[r] - amounts[r]
            )
            for r in RESOURCES
        }
        await self.session.execute(
            update(QuotaUsageRow)
            .where(QuotaUsageRow.project_id == project_id)
            .values(**values, updated_at=utcnow())
        )
