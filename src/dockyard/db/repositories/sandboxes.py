"""Sandbox rows, seen through a TenantScope like containers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, select

from dockyard.db.repositories.base import TenantRepository
from dockyard.db.tables import ContainerRow, SandboxRow
from dockyard.errors import SandboxNotFound

_S = TypeVar("_S", bound=Select[Any])


class SandboxRepository(TenantRepository[SandboxRow]):
    row = SandboxRow
    not_found = SandboxNotFound
    kind = "sandbox"
    by_name = False  # sandboxes have no names

    async def list(self, limit: int, marker: str | None = None) -> Sequence[SandboxRow]:
        stmt = self._scoped(select(SandboxRow)).order_by(SandboxRow.created_at, SandboxRow.uuid)
        if marker:
            anchor = await self.get(marker)
            stmt = stmt.where(
                (SandboxRow.created_at > anchor.created_at)
                | ((SandboxRow.created_at == anchor.created_at) & (SandboxRow.uuid > anchor.uuid))
            )
        return (await self.session.scalars(stmt.limit(limit))).all()

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
