"""A project's named volumes and their attachments, always seen through a TenantScope."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select

from dockyard.db.repositories.base import TenantRepository
from dockyard.db.volumes_tables import VolumeAttachmentRow, VolumeRow
from dockyard.errors import Invalid, VolumeNotFound

SORT_COLUMNS: dict[str, Any] = {
    "id": VolumeRow.created_at, "created_at": VolumeRow.created_at, "uuid": VolumeRow.uuid,
    "name": VolumeRow.name, "size": VolumeRow.size, "project_id": VolumeRow.project_id,
}  # fmt: skip


class VolumeRepository(TenantRepository[VolumeRow]):
    row = VolumeRow
    not_found = VolumeNotFound
    kind = "volume"

    async def list(
        self, *, limit: int, marker: str | None, sort_key: str, sort_dir: str
    ) -> Sequence[VolumeRow]:
        column = SORT_COLUMNS.get(sort_key)
        if column is None:
            raise Invalid(f"Invalid sort_key {sort_key}; allowed: {', '.join(SORT_COLUMNS)}.")
        stmt = self._scoped(select(VolumeRow))
        if marker:
            after = await self.find(marker)
            if after is None:
                raise Invalid(f"Marker {marker} could not be found.")
            value = getattr(after, column.key)
            before_or_after = (column < value) if sort_dir == "desc" else (column > value)
            tie = VolumeRow.uuid < after.uuid if sort_dir == "desc" else VolumeRow.uuid > after.uuid
            stmt = stmt.where(or_(before_or_after, and_(column == value, tie)))
        order = (column.desc(), VolumeRow.uuid.desc()) if sort_dir == "desc" else (
            column.asc(), VolumeRow.uuid.asc())  # fmt: skip
        return (await self.session.scalars(stmt.order_by(*order).limit(limit))).all()

    async def users(self, volume_uuid: str) -> builtins.list[str]:
        """Uuids of the containers that mount the volume (it is in use while any remain)."""
        stmt = select(VolumeAttachmentRow.container_uuid).where(
            VolumeAttachmentRow.volume_uuid == volume_uuid
        )
        return sorted((await self.session.scalars(stmt)).all())

    async def users_of(self, volume_uuids: Sequence[str]) -> dict[str, builtins.list[str]]:
        """users() of many volumes at once, for a list."""
        if not volume_uuids:
            return {}
        stmt = select(VolumeAttachmentRow.volume_uuid, VolumeAttachmentRow.container_uuid).where(
            VolumeAttachmentRow.volume_uuid.in_(volume_uuids)
        )
        result: dict[str, builtins.list[str]] = {}
        for volume_uuid, container_uuid in (await self.session.execute(stmt)).all():
            result.setdefault(str(volume_uuid), []).append(str(container_uuid))
        return result
