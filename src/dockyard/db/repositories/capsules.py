"""Capsule rows (Zun's pods), scoped by project; their containers live in the containers table."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.tables import CapsuleRow, ContainerRow
from dockyard.domain.capsules import volume_engine_name
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import CapsuleNotFound, Conflict

_S = TypeVar("_S", bound=Select[Any])


class CapsuleRepository:
    def __init__(self, session: AsyncSession, scope: TenantScope) -> None:
        self.session = session
        self.scope = scope

    def _scoped(self, stmt: _S) -> _S:
        if self.scope.is_unrestricted:
            return stmt
        return stmt.where(CapsuleRow.project_id == self.scope.project_id)

    async def find(self, ident: str, *, for_update: bool = False) -> CapsuleRow | None:
        try:
            uuidlib.UUID(ident)
            column = CapsuleRow.uuid
        except ValueError:
            column = CapsuleRow.name
        stmt = self._scoped(select(CapsuleRow).where(column == ident))
        if for_update:
            stmt = stmt.with_for_update()
        rows = (await self.session.scalars(stmt.limit(2))).all()
        if len(rows) > 1:
            raise Conflict("Multiple capsules exist with same name. Please use the capsule uuid.")
        return rows[0] if rows else None

    async def get(self, ident: str, *, for_update: bool = False) -> CapsuleRow:
        row = await self.find(ident, for_update=for_update)
        if row is None:
            raise CapsuleNotFound(ident=ident)
        return row

    async def name_taken(self, project_id: str, name: str) -> bool:
        stmt = select(func.count()).where(
            CapsuleRow.project_id == project_id, CapsuleRow.name == name
        )
        return bool(await self.session.scalar(stmt))

    async def list(self, limit: int, marker: str | None, sort_dir: str) -> Sequence[CapsuleRow]:
        descending = sort_dir == "desc"
        order = (CapsuleRow.created_at, CapsuleRow.uuid)
        stmt = self._scoped(select(CapsuleRow))
        if marker:
            anchor = await self.get(marker)
            before = or_(
                CapsuleRow.created_at < anchor.created_at,
                and_(CapsuleRow.created_at == anchor.created_at, CapsuleRow.uuid < anchor.uuid),
            )
            after = or_(
                CapsuleRow.created_at > anchor.created_at,
                and_(CapsuleRow.created_at == anchor.created_at, CapsuleRow.uuid > anchor.uuid),
            )
            stmt = stmt.where(before if descending else after)
        stmt = stmt.order_by(*(c.desc() for c in order) if descending else order)
        return (await self.session.scalars(stmt.limit(limit))).all()

    def add(self, row: CapsuleRow) -> None:
        self.session.add(row)

    async def delete(self, row: CapsuleRow) -> None:
        await self.session.execute(delete(CapsuleRow).where(CapsuleRow.uuid == row.uuid))

    async def members(self, capsule_uuid: str) -> Sequence[ContainerRow]:
        stmt = (
            select(ContainerRow)
            .where(ContainerRow.capsule_uuid == capsule_uuid)
            .order_by(ContainerRow.container_type.desc(), ContainerRow.capsule_order)
        )
        return (await self.session.scalars(stmt)).all()

    async def find_by_sandbox(self, sandbox_uuid: str) -> CapsuleRow | None:
        stmt = select(CapsuleRow).where(CapsuleRow.sandbox_uuid == sandbox_uuid)
        return await self.session.scalar(stmt)


class CapsuleVolumes:
    """The engine volumes each sandbox carries (for the agent's assignments)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_sandboxes(self, sandbox_uuids: Sequence[str]) -> dict[str, list[str]]:
        if not sandbox_uuids:
            return {}
        stmt = select(CapsuleRow.sandbox_uuid, CapsuleRow.uuid, CapsuleRow.volumes).where(
            CapsuleRow.sandbox_uuid.in_(sandbox_uuids)
        )
        result: dict[str, list[str]] = {}
        for sandbox_uuid, capsule_uuid, volumes in (await self.session.execute(stmt)).all():
            result[str(sandbox_uuid)] = [volume_engine_name(capsule_uuid, v) for v in volumes]
        return result
