"""Container action records; the caller has already found the container in its scope."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.actions_tables import ContainerActionEventRow, ContainerActionRow


class ActionRepository:
    """Actions of one container at a time: tenancy is the container's (looked up first)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(
        self, action: ContainerActionRow, events: Sequence[ContainerActionEventRow]
    ) -> None:
        self.session.add(action)
        await self.session.flush()  # no relationship() orders the two inserts: the action first
        self.session.add_all(events)

    async def list_for(self, container_uuid: str) -> Sequence[ContainerActionRow]:
        """Newest first, as Zun lists them."""
        stmt = (
            select(ContainerActionRow)
            .where(ContainerActionRow.container_uuid == container_uuid)
            .order_by(ContainerActionRow.start_time.desc(), ContainerActionRow.uuid)
        )
        return (await self.session.scalars(stmt)).all()

    async def find(self, container_uuid: str, request_id: str) -> ContainerActionRow | None:
        stmt = select(ContainerActionRow).where(
            ContainerActionRow.container_uuid == container_uuid,
            ContainerActionRow.request_id == request_id,
        )
        return (await self.session.scalars(stmt.limit(1))).first()

    async def add_events(self, events: Sequence[ContainerActionEventRow]) -> None:
        self.session.add_all(events)

    async def latest(self, container_uuid: str) -> ContainerActionRow | None:
        stmt = (
            select(ContainerActionRow)
            .where(ContainerActionRow.container_uuid == container_uuid)
            .order_by(ContainerActionRow.start_time.desc())
        )
        return (await self.session.scalars(stmt.limit(1))).first()

    async def open_for(self, container_uuids: Sequence[str]) -> Sequence[ContainerActionRow]:
        """The containers' actions still waiting for their host's outcome."""
        stmt = select(ContainerActionRow).where(
            ContainerActionRow.container_uuid.in_(list(container_uuids)),
            ContainerActionRow.finish_time.is_(None),
        )
        return (await self.session.scalars(stmt)).all()

    async def events_of(self, action_uuid: str) -> Sequence[ContainerActionEventRow]:
        stmt = (
            select(ContainerActionEventRow)
            .where(ContainerActionEventRow.action_uuid == action_uuid)
            .order_by(ContainerActionEventRow.start_time)
        )
        return (await self.session.scalars(stmt)).all()
