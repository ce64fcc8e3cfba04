"""In-process wake-ups for agent watches: a change for a host ends that host's long-poll."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class HostSignals:
    """Per-host change counters with waiters.

    A watcher reads `version(host)` before it queries the database and then waits for the
    version to move, so a change committed between the query and the wait is never missed.
    Under PostgreSQL with several API replicas the same wake-up would come from
    LISTEN/NOTIFY (TODO #2 follow-up); the long-poll timeout bounds the delay meanwhile.
    """

    def __init__(self) -> None:
        self._versions: dict[str, int] = defaultdict(int)
        self._conditions: dict[str, asyncio.Condition] = {}
        self.closed = False

    async def close(self) -> None:
        """End every wait at once, and every later one (server shutdown)."""
        self.closed = True
        for host_uuid in list(self._conditions):
            await self.notify(host_uuid)

    def version(self, host_uuid: str) -> int:
        return self._versions[host_uuid]

    def _condition(self, host_uuid: str) -> asyncio.Condition:
        if host_uuid not in self._conditions:
            self._conditions[host_uuid] = asyncio.Condition()
        return self._conditions[host_uuid]

    async def notify(self, host_uuid: str) -> None:
        self._versions[host_uuid] += 1
        condition = self._condition(host_uuid)
        async with condition:
            condition.notify_all()

    async def wait(self, host_uuid: str, seen_version: int, timeout: float) -> bool:
        """Wait until the host's version differs from seen_version; False on timeout."""
        if self.closed:
            return False
        condition = self._condition(host_uuid)
        async with condition:
            try:
                await asyncio.wait_for(
                    condition.wait_for(
                        lambda: self.closed or self._versions[host_uuid] != seen_version
                    ),
                    timeout,
                )
            except TimeoutError:
                return False
        return True
