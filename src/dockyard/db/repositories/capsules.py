"""Capsule rows (Zun's pods), scoped by project; their containers live in the containers table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.repositories.base import TenantRepository
from dockyard.db.tables import CapsuleRow, ContainerRow
from dockyard.domain.capsules import volume_engine_name
from dockyard.errors import CapsuleNotFound

_S = TypeVar("_S", bound=Select[Any])


class CapsuleRepository(TenantRepository[CapsuleRow]):
    row = CapsuleRow
    not_found = CapsuleNotFound
    kind = "capsule"

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
