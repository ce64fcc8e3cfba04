"""Container actions and their events: what each request did to a container (Zun's
`container_actions` and `container_actions_events`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.tables import Base, UTCDateTime, new_uuid, utcnow


class ContainerActionRow(Base):
    """One request that acted on a container. No foreign key to the container: the record
    outlives a deleted container (its `delete` is recorded after the row is gone)."""

    __tablename__ = "container_actions"
    __table_args__ = (
        Index("ix_container_actions_container_request", "container_uuid", "request_id"),
    )

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    container_uuid: Mapped[str] = mapped_column(String(36))
    request_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finish_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # None on success; the caller-safe reason on failure (engine details stay in the event).
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class ContainerActionEventRow(Base):
    """A step of an action; `traceback` holds what only an administrator may read."""

    __tablename__ = "container_action_events"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    action_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("container_actions.uuid", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finish_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    result: Mapped[str | None] = mapped_column(String(16), nullable=True)  # Success | Error
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
