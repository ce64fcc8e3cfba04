"""Private registries of a project (Zun's `registry` table); the password only encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.tables import Base, UTCDateTime, new_uuid, utcnow


class RegistryRow(Base):
    __tablename__ = "registries"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    domain: Mapped[str] = mapped_column(String(255))  # host[:port] the images are named by
    username: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Fernet token of the password (services/secrets.py); never the password itself.
    password_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
