"""Stream tokens: issue, redeem once, forget the expired ones."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.streams_tables import StreamTokenRow

# Expired tokens are kept a while, so that a late redeem is told "expired", not "unknown".
KEEP_EXPIRED = timedelta(hours=1)


class StreamTokenRepository:
    """Tokens are found by digest only: whoever holds the token holds the stream."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: StreamTokenRow) -> None:
        self.session.add(row)

    async def redeem(self, digest: str, now: datetime) -> bool:
        """Mark the token used if it is unused and unexpired; True if this call did.

        One conditional UPDATE: of two replicas redeeming the same token at once, the
        database lets exactly one change the row (on SQLite and on PostgreSQL alike).
        """
        stmt = (
            update(StreamTokenRow)
            .where(
                StreamTokenRow.digest == digest,
                StreamTokenRow.used_at.is_(None),
                StreamTokenRow.expires_at > now,
            )
            .values(used_at=now)
        )
        result = await self.session.execute(stmt)
        return isinstance(result, CursorResult) and result.rowcount == 1

    async def find(self, digest: str) -> StreamTokenRow | None:
        return await self.session.scalar(
            select(StreamTokenRow).where(StreamTokenRow.digest == digest)
        )

    async def purge(self, now: datetime) -> None:
        """Forget tokens that expired long ago (each issue calls this; the table stays small)."""
        stmt = delete(StreamTokenRow).where(StreamTokenRow.expires_at < now - KEEP_EXPIRED)
        await self.session.execute(stmt)
