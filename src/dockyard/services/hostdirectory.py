"""A short-lived in-memory copy of the host table, for reads that tolerate a second of lag."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from dockyard.db.engine import Sessions
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.tables import HostRow
from dockyard.services.scheduling import is_host_up
from dockyard.settings import SchedulerSettings


class HostDirectory:
    """Host names and up/down state for rendering containers, without a query per request.

    Placement does not use it: claims always read and update the database itself.
    """

    def __init__(self, sessions: Sessions, settings: SchedulerSettings, ttl: float = 1.0) -> None:
        self._sessions = sessions
        self._settings = settings
        self._ttl = ttl
        self._rows: Sequence[HostRow] = ()
        self._loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    async def rows(self) -> Sequence[HostRow]:
        if time.monotonic() - self._loaded_at < self._ttl:
            return self._rows
        async with self._lock:
            if time.monotonic() - self._loaded_at >= self._ttl:
                async with self._sessions() as session:
                    self._rows = await HostRepository(session).list()
                self._loaded_at = time.monotonic()
        return self._rows

    async def names(self, host_uuids: set[str]) -> dict[str, str]:
        return {h.uuid: h.hostname for h in await self.rows() if h.uuid in host_uuids}

    async def down(self) -> set[str]:
        return {h.uuid for h in await self.rows() if not is_host_up(h, self._settings)}
