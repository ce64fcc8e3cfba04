"""A project's named volumes and which containers mount them (Zun's `volume` and
`volume_mapping` tables, for Dockyard's local volumes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.tables import Base, UTCDateTime, new_uuid, utcnow


class VolumeRow(Base):
    __tablename__ = "volumes"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_volumes_project_name"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)  # GiB, as asked
    backend: Mapped[str] = mapped_column(String(32), default="local")
    # The engine object behind it (services/volumes.py VolumeBackend names it).
    engine_name: Mapped[str] = mapped_column(String(255))
    # A local volume lives on one host: every container that mounts it is placed there.
    # NULL once that host was removed: the data went with it.
    host_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("hosts.uuid", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class VolumeAttachmentRow(Base):
    """A container that mounts a named volume: the volume is in use while the row exists,
    and the row goes with the container's row (ON DELETE CASCADE)."""

    __tablename__ = "volume_attachments"

    volume_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("volumes.uuid"), primary_key=True
    )
    container_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("containers.uuid", ondelete="CASCADE"), primary_key=True,
        index=True,
    )  # fmt: skip
    destination: Mapped[str] = mapped_column(String(4096))
