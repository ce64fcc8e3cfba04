"""In-process wake-ups: a change to a key (a host, a container) ends the waits on that key."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.db.changes import CONTAINERS, HOSTS, SCHEDULE


@dataclass
class _Entry:
    version: int = 0
    watchers: int = 0
    waiting: int = 0
    moved: asyncio.Event = field(default_factory=asyncio.Event)


class Watch:
    """One watcher's hold on a key: read `version`, query, then `wait(seen)` for it to move."""

    def __init__(self, signals: HostSignals, entry: _Entry) -> None:
        self._signals = signals
        self._entry = entry

    @property
    def version(self) -> int:
        return self._entry.version

    async def wait(self, seen_version: int, timeout: float) -> bool:
        """Wait until the key's version differs from seen_version; False on timeout."""
        recheck = self._signals.recheck
        limit = timeout if recheck is None else min(timeout, recheck)
        self._entry.waiting += 1
        try:
            while self._entry.version == seen_version and not self._signals.closed:
                # No await between the check and taking the event: a notify cannot slip in.
                await asyncio.wait_for(self._entry.moved.wait(), limit)
        except TimeoutError:
            return False
        finally:
            self._entry.waiting -= 1
        return self._entry.version != seen_version


class HostSignals:
    """Change counters with waiters, one entry per key that someone is watching.

    A watcher holds `watching(key)` for as long as it may wait, reads the version before it
    queries the database and then waits for the version to move, so a change committed
    between the query and the wait is never missed. An entry exists only while somebody
    watches its key: a change nobody waits for costs nothing, and watches of keys that
    never change (a uuid that does not exist) leave nothing behind.

    Changes arrive from this process's commits and, under PostgreSQL, from the other
    replicas' commits through LISTEN/NOTIFY (db/changes.py).
    """

    def __init__(self, recheck: float | None = None) -> None:
        self._entries: dict[str, _Entry] = {}
        self.closed = False
        # Where other replicas' changes are not pushed (MySQL), waits end this often.
        self.recheck = recheck

    def __len__(self) -> int:
        """How many keys are watched now (0 when nobody waits)."""
        return len(self._entries)

    def waiting(self, key: str) -> int:
        """How many watchers of key are blocked in wait() now."""
        entry = self._entries.get(key)
        return entry.waiting if entry is not None else 0

    @contextmanager
    def watching(self, key: str) -> Iterator[Watch]:
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.watchers += 1
        try:
            yield Watch(self, entry)
        finally:
            entry.watchers -= 1
            if entry.watchers == 0:
                del self._entries[key]

    def notify(self, key: str) -> None:
        """The key changed: wake its watchers (nothing to do when nobody watches it)."""
        entry = self._entries.get(key)
        if entry is not None:
            self._move(entry)

    def notify_all(self) -> None:
        """Wake every watcher once (after changes may have been missed, or at shutdown)."""
        for entry in list(self._entries.values()):
            self._move(entry)

    def close(self) -> None:
        """End every wait at once, and every later one (server shutdown)."""
        self.closed = True
        self.notify_all()

    @staticmethod
    def _move(entry: _Entry) -> None:
        entry.version += 1
        entry.moved.set()
        entry.moved = asyncio.Event()


class Pulse:
    """A counter with waiters for one thing that happens again and again (work to do)."""

    def __init__(self) -> None:
        self.version = 0
        self._moved = asyncio.Event()

    def notify(self) -> None:
        self.version += 1
        self._moved.set()
        self._moved = asyncio.Event()

    async def wait(self, seen_version: int, timeout: float) -> bool:
        """Wait until version differs from seen_version (read before the work was looked
        at, so a notify meanwhile is never missed); False on timeout."""
        try:
            while self.version == seen_version:
                await asyncio.wait_for(self._moved.wait(), timeout)
        except TimeoutError:
            return False
        return True


class HostFollower(Protocol):
    """Keeps something per host that a committed change to the host's row makes stale (the
    host index: services/hostdirectory.py)."""

    def moved(self, host_uuid: str) -> None: ...

    def invalidate(self) -> None: ...


@dataclass
class Wakeups:
    """What API requests wait for: a host's assignments to change, a container's status."""

    hosts: HostSignals = field(default_factory=HostSignals)
    containers: HostSignals = field(default_factory=HostSignals)
    schedule: Pulse = field(default_factory=Pulse)  # containers wait for a host
    # Told of every host change too, before its waiters wake; all of them after a gap.
    followers: list[HostFollower] = field(default_factory=list)

    @classmethod
    def rechecking(cls, recheck: float | None) -> Wakeups:
        return cls(HostSignals(recheck), HostSignals(recheck))

    def deliver(self, channel: str, key: str) -> None:
        """A committed change (db/changes.py) reaches the waiters of its key."""
        if channel == HOSTS:
            for follower in self.followers:
                follower.moved(key)
            self.hosts.notify(key)
        elif channel == CONTAINERS:
            self.containers.notify(key)
        elif channel == SCHEDULE:
            self.schedule.notify()

    def wake_all(self) -> None:
        for follower in self.followers:
            follower.invalidate()
        self.hosts.notify_all()
        self.containers.notify_all()
        self.schedule.notify()

    def close(self) -> None:
        self.hosts.close()
        self.containers.close()
