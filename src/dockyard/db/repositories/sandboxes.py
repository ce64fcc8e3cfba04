"""Sandbox rows, seen through a TenantScope like containers."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.tables import ContainerRow, SandboxRow
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import SandboxNotFound

_S = TypeVar("_S", bound=Select[Any])


class SandboxRepository:
    def __init__(self, session: AsyncSession, scope: TenantScope) -> None:
        self.session = session
        self.scope = scope

    def _scoped(self, stmt: _S) -> _S:
        if self.scope.is_unrestricted:
            return stmt
        return stmt.where(SandboxRow.project_id == self.scope.project_id)

    async def find(self, ident: str, *, for_update: bool = False) -> SandboxRow | None:
        try:
            uuidlib.UUID(ident)
        except ValueError:
            return None
        stmt = self._scoped(select(SandboxRow).where(SandboxRow.uuid == ident))
        if for_update:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt)

    async def get(self, ident: str, *, for_update: bool = False) -> SandboxRow:
        row = await self.find(ident, for_update=for_update)
        if row is None:
            raise SandboxNotFound(ident=ident)
        return row

    async def list(self, limit: int, marker: str | None = None) -> Sequence[SandboxRow]:
        stmt = self._scoped(select(SandboxRow)).order_by(SandboxRow.created_at, SandboxRow.uuid)
        if marker:
            anchor = await self.get(marker)
            stmt = stmt.where(
                (SandboxRow.created_at > anchor.created_at)
                | ((SandboxRow.created_at == anchor.created_at) & (SandboxRow.uuid > anchor.uuid))
            )
        return (await self.session.scalars(stmt.limit(limit))).all()

    def add(self, row: SandboxRow) -> None:
        self.session.add(row)

    async def delete(self, row: SandboxRow) -> None:
        await self.session.execute(delete(SandboxRow).where(SandboxRow.uuid == row.uuid))

    async def count_members(self, sandbox_uuid: str) -> int:
        stmt = select(func.count()).where(ContainerRow.sandbox_uuid == sandbox_uuid)
        return int(await self.session.scalar(stmt) or 0)

    async def members(self, sandbox_uuid: str) -> Sequence[ContainerRow]:
        stmt = select(ContainerRow).where(ContainerRow.sandbox_uuid == sandbox_uuid)
        return (await self.session.scalars(stmt.order_by(ContainerRow.created_at))).all()

    async def list_for_host(self, host_uuid: str, since_revision: int) -> Sequence[SandboxRow]:
        stmt = self._scoped(
            select(SandboxRow).where(
                SandboxRow.host_uuid == host_uuid, SandboxRow.revision > since_revision
            )
        )
        return (await self.session.scalars(stmt.order_by(SandboxRow.revision))).all()
