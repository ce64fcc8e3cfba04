"""Image records. Images belong to hosts (the operator's), so no TenantScope applies; the
image API is for administrators (Zun's policy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.images_tables import ImageRow
from dockyard.db.repositories.base import is_uuid
from dockyard.errors import ImageNotFound, InvalidValue

SORT_COLUMNS: dict[str, Any] = {
    "id": ImageRow.created_at, "created_at": ImageRow.created_at, "uuid": ImageRow.uuid,
    "repo": ImageRow.repo, "tag": ImageRow.tag, "size": ImageRow.size,
    "host": ImageRow.host_uuid, "status": ImageRow.status,
}  # fmt: skip


class ImageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: ImageRow) -> None:
        self.session.add(row)

    async def get(self, ident: str, *, for_update: bool = False) -> ImageRow:
        found = None
        if is_uuid(ident):
            stmt = select(ImageRow).where(ImageRow.uuid == ident)
            if for_update:
                stmt = stmt.with_for_update()
            found = (await self.session.scalars(stmt)).first()
        if found is None:
            raise ImageNotFound(f"Image {ident} could not be found.")
        return found

    async def find_on_host(self, host_uuid: str, repo: str, tag: str) -> ImageRow | None:
        stmt = select(ImageRow).where(
            ImageRow.host_uuid == host_uuid, ImageRow.repo == repo, ImageRow.tag == tag
        )
        return (await self.session.scalars(stmt.with_for_update())).first()

    async def list(
        self, *, limit: int, marker: str | None, sort_key: str, sort_dir: str
    ) -> Sequence[ImageRow]:
        column = SORT_COLUMNS.get(sort_key)
        if column is None:
            raise InvalidValue(
                f"Invalid sort_key {sort_key!r}: use one of {', '.join(SORT_COLUMNS)}."
            )
        order = [column.desc() if sort_dir == "desc" else column.asc(), ImageRow.uuid]
        stmt = select(ImageRow).order_by(*order)
        if marker:
            after = await self.get(marker)
            value = getattr(after, column.key)
            beyond = column < value if sort_dir == "desc" else column > value
            stmt = stmt.where(beyond | ((column == value) & (ImageRow.uuid > after.uuid)))
        return (await self.session.scalars(stmt.limit(limit))).all()

    async def search(self, term: str, exact: bool) -> Sequence[ImageRow]:
        condition = ImageRow.repo == term if exact else ImageRow.repo.contains(term)
        stmt = select(ImageRow).where(condition, ImageRow.status == "Pulled")
        return (await self.session.scalars(stmt.order_by(ImageRow.repo))).all()

    async def put_on_host(self, row: ImageRow) -> ImageRow:
        """The host's record of row's repo:tag: the one there is, else row (inserted). A
        savepoint guards the insert: two containers' pulls of one image may be reported at
        once, and one record must result."""
        found = await self.find_on_host(row.host_uuid, row.repo, row.tag)
        if found is not None:
            return found
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            found = await self.find_on_host(row.host_uuid, row.repo, row.tag)
            if found is None:
                raise
            return found
        return row

    async def delete(self, row: ImageRow) -> None:
        await self.session.delete(row)
