"""Image records: an image pulled onto one host (Zun's `image` table), with its pull's state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.tables import Base, UTCDateTime, new_uuid, utcnow


class ImageRow(Base):
    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("host_uuid", "repo", "tag", name="uq_images_host_repo_tag"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    host_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("hosts.uuid", ondelete="CASCADE"), index=True
    )
    repo: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(String(128))
    image_id: Mapped[str | None] = mapped_column(String(255), nullable=True)  # the engine's
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # bytes
    status: Mapped[str] = mapped_column(String(16))  # Pulling | Pulled | Error
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Bytes downloaded of the layers' total so far, for a progress bar while Pulling.
    progress_current: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int] = mapped_column(BigInteger, default=0)
    image_pull_policy: Mapped[str | None] = mapped_column(String(32), nullable=True)
    project_id: Mapped[str] = mapped_column(String(255))  # who asked for the pull
    user_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
