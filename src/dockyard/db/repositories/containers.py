"""Container rows, always seen through a TenantScope; repositories never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, or_, select

from dockyard.db.changes import CONTAINERS, publish
from dockyard.db.repositories.base import TenantRepository, is_uuid
from dockyard.db.tables import ContainerRow
from dockyard.errors import ContainerNotFound, Invalid

_S = TypeVar("_S", bound=Select[Any])

# Columns a list may be sorted by; Zun's default `id` is its insertion order.
SORT_COLUMNS: dict[str, Any] = {
    "id": ContainerRow.created_at,
    "created_at": ContainerRow.created_at,
    "updated_at": ContainerRow.updated_at,
    "name": ContainerRow.name,
    "image": ContainerRow.image,
    "status": ContainerRow.status,
    "uuid": ContainerRow.uuid,
    "memory": ContainerRow.memory,
    "cpu": ContainerRow.cpu,
    "project_id": ContainerRow.project_id,
    "user_id": ContainerRow.user_id,
    "host": ContainerRow.host_uuid,
    "task_state": ContainerRow.task_state,
}


class ContainerRepository(TenantRepository[ContainerRow]):
    row = ContainerRow
    not_found = ContainerNotFound
    kind = "container"

    async def delete(self, row: ContainerRow) -> bool:
        """Delete the row; a `?wait_status` watch on it wakes (and answers 404) at commit."""
        publish(self.session, CONTAINERS, row.uuid)
        return await super().delete(row)

    async def name_taken(self, project_id: str, name: str, exclude_uuid: str | None = None) -> bool:
        stmt = select(func.count()).where(
            ContainerRow.project_id == project_id, ContainerRow.name == name
        )
        if exclude_uuid:
            stmt = stmt.where(ContainerRow.uuid != exclude_uuid)
        return bool(await self.session.scalar(stmt))

    async def list(
        self,
        filters: Mapping[str, Any],
        *,
        limit: int,
        marker: str | None = None,
        sort_key: str = "id",
        sort_dir: str = "asc",
    ) -> Sequence[ContainerRow]:
        """One page, ordered by sort_key then uuid, starting after the marker's row."""
        column = SORT_COLUMNS.get(sort_key)
        if column is None:
            raise Invalid(f"Invalid sort_key {sort_key}; allowed: {', '.join(SORT_COLUMNS)}.")
        # Capsule members are listed with their capsule, not here (as in Zun).
        stmt = self._scoped(select(ContainerRow).where(ContainerRow.capsule_uuid.is_(None)))
        for key, value in filters.items():
            stmt = stmt.where(getattr(ContainerRow, key) == value)
        if marker:
            stmt = stmt.where(await self._after(marker, column, sort_dir))
        order = (
            (column.desc(), ContainerRow.uuid.desc())
            if sort_dir == "desc"
            else (
                column.asc(),
                ContainerRow.uuid.asc(),
            )
        )
        return (await self.session.scalars(stmt.order_by(*order).limit(limit))).all()

    async def _after(self, marker: str, column: Any, sort_dir: str) -> Any:
        marker_row = await self.find(marker) if is_uuid(marker) else None
        if marker_row is None:
            raise Invalid(f"Marker {marker} could not be found.")
        value = getattr(marker_row, column.key)
        if sort_dir == "desc":
            return or_(column < value, and_(column == value, ContainerRow.uuid < marker_row.uuid))
        return or_(column > value, and_(column == value, ContainerRow.uuid > marker_row.uuid))

    async def list_for_host(self, host_uuid: str, since_revision: int) -> Sequence[ContainerRow]:
        """The host's containers changed after since_revision (all of them for 0)."""
        stmt = self._scoped(
            select(ContainerRow).where(
                ContainerRow.host_uuid == host_uuid, ContainerRow.revision > since_revision
            )
        )
        return (await self.session.scalars(stmt.order_by(ContainerRow.revision))).all()
