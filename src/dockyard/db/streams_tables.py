"""Single-use stream tokens: what a console URL (exec, attach) is good for, and until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.tables import Base, UTCDateTime, utcnow


class StreamTokenRow(Base):
    """One console URL's token, kept as its SHA-256 so a database reader cannot open it.

    In the database (not in one replica's memory) so that any API replica can redeem a token
    another issued; `used_at` is set by one conditional UPDATE, so only one redeem wins.
    """

    __tablename__ = "stream_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # exec | attach
    container_uuid: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str] = mapped_column(String(255))
    exec_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
