"""Container action records; the caller has already found the container in its scope."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, or_, select, update
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

    async def finish_open(
        self, container_uuids: Sequence[str], now: datetime, failed_message: str | None
    ) -> list[tuple[str, datetime]]:
        """Finish the containers' open actions at `now` (with `failed_message`: they failed,
        and one without a message gets it); (uuid, start time) of each one finished.

        One UPDATE … RETURNING where reading them first, then updating, took two statements
        in the transaction of every report that completes a change (each create's)."""
        table = ContainerActionRow
        values: dict[str, object] = {"finish_time": now}
        if failed_message is not None:
            unset = or_(table.message.is_(None), table.message == "")
            values["message"] = case((unset, failed_message), else_=table.message)
        stmt = (
            update(table)
            .where(table.container_uuid.in_(list(container_uuids)), table.finish_time.is_(None))
            .values(values)
            .returning(table.uuid, table.start_time)
            .execution_options(synchronize_session="fetch")  # one written in this session
        )
        return [(uuid, start) for uuid, start in (await self.session.execute(stmt)).all()]

    async def events_of(self, action_uuid: str) -> Sequence[ContainerActionEventRow]:
        stmt = (
            select(ContainerActionEventRow)
            .where(ContainerActionEventRow.action_uuid == action_uuid)
            .order_by(ContainerActionEventRow.start_time)
        )
        return (await self.session.scalars(stmt)).all()
