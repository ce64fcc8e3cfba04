"""A project's private registries, always seen through a TenantScope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, or_, select

from dockyard.db.registries_tables import RegistryRow
from dockyard.db.repositories.base import TenantRepository
from dockyard.errors import Invalid, RegistryNotFound

SORT_COLUMNS: dict[str, Any] = {
    "id": RegistryRow.created_at, "created_at": RegistryRow.created_at,
    "uuid": RegistryRow.uuid, "name": RegistryRow.name, "domain": RegistryRow.domain,
    "username": RegistryRow.username, "project_id": RegistryRow.project_id,
    "user_id": RegistryRow.user_id,
}  # fmt: skip


class RegistryRepository(TenantRepository[RegistryRow]):
    row = RegistryRow
    not_found = RegistryNotFound
    kind = "registry"

    async def list(
        self, filters: Mapping[str, str], *, limit: int, marker: str | None, sort_key: str,
        sort_dir: str,
    ) -> Sequence[RegistryRow]:  # fmt: skip
        column = SORT_COLUMNS.get(sort_key)
        if column is None:
            raise Invalid(f"Invalid sort_key {sort_key}; allowed: {', '.join(SORT_COLUMNS)}.")
        stmt = self._scoped(select(RegistryRow))
        for key, value in filters.items():
            stmt = stmt.where(getattr(RegistryRow, key) == value)
        if marker:
            after = await self.find(marker)
            if after is None:
                raise Invalid(f"Marker {marker} could not be found.")
            value = getattr(after, column.key)
            if sort_dir == "desc":
                stmt = stmt.where(
                    or_(column < value, and_(column == value, RegistryRow.uuid < after.uuid))
                )
            else:
                stmt = stmt.where(
                    or_(column > value, and_(column == value, RegistryRow.uuid > after.uuid))
                )
        order = (column.desc(), RegistryRow.uuid.desc()) if sort_dir == "desc" else (
            column.asc(), RegistryRow.uuid.asc())  # fmt: skip
        return (await self.session.scalars(stmt.order_by(*order).limit(limit))).all()

    async def find_for_domain(self, domain: str) -> RegistryRow | None:
        """The newest of the project's registries for domain (to pull its images with)."""
        stmt = self._scoped(select(RegistryRow).where(RegistryRow.domain == domain))
        return (await self.session.scalars(stmt.order_by(RegistryRow.created_at.desc()))).first()
