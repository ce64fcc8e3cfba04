"""Committed changes, delivered to waiters: in-process, and across replicas by LISTEN/NOTIFY.

A write transaction records what it changed with `publish(session, channel, key)`: a
host's watch revision moved (the agent's long-poll must wake), a container's status moved
(a `?wait_status` must wake). At commit the keys are delivered to this process's waiters;
under PostgreSQL the same transaction also sends them with NOTIFY, which PostgreSQL delivers
to the other replicas at commit and never for a rolled-back change. Each replica keeps one
LISTEN connection; if it drops, every waiter is woken once (it re-reads the database, so no
change is missed) and the connection is made again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session as SyncSession

from dockyard.background import cancel_and_wait
from dockyard.db.tables import ContainerRow

log = logging.getLogger(__name__)

HOSTS = "dockyard_hosts"  # key: host uuid; its watch revision moved
CONTAINERS = "dockyard_containers"  # key: container uuid; its status moved or the row went
SCHEDULE = "dockyard_schedule"  # a container waits for a host: the schedulers look
CHANNELS = (HOSTS, CONTAINERS, SCHEDULE)

Deliver = Callable[[str, str], None]  # (channel, key)
_PENDING = "dockyard.changes"
_FEED = "dockyard.feed"


def publish(session: AsyncSession | SyncSession, channel: str, key: str) -> None:
    """Record that key changed; it is delivered when (and only if) the transaction commits."""
    session.info.setdefault(_PENDING, set()).add((channel, key))


class ChangeSession(SyncSession):
    """The ORM session Dockyard's session factory makes: it delivers published changes."""


@event.listens_for(ChangeSession, "after_flush")
def _container_status_moved(session: SyncSession, _context: Any) -> None:
    # Every status change is published, whoever makes it (reports, actions, the scheduler).
    for row in session.dirty:
        if isinstance(row, ContainerRow) and inspect(row).attrs.status.history.has_changes():
            publish(session, CONTAINERS, row.uuid)
    for row in session.deleted:
        if isinstance(row, ContainerRow):
            publish(session, CONTAINERS, row.uuid)


@event.listens_for(ChangeSession, "before_commit")
def _send_notifies(session: SyncSession) -> None:
    feed: ChangeFeed | None = session.info.get(_FEED)
    if feed is None or not feed.notifies:
        return
    session.flush()  # the commit would flush anyway; now status changes are published too
    pending = session.info.get(_PENDING)
    if pending:
        ordered = sorted(pending)
        channels = [channel for channel, _ in ordered]
        payloads = [f"{feed.replica}:{key}" for _, key in ordered]
        session.execute(
            text(
                "SELECT pg_notify(c, p) FROM unnest(CAST(:c AS text[]), CAST(:p AS text[]))"
                " AS t(c, p)"
            ),
            {"c": channels, "p": payloads},
        )


@event.listens_for(ChangeSession, "after_commit")
def _deliver_here(session: SyncSession) -> None:
    pending = session.info.pop(_PENDING, None)
    feed: ChangeFeed | None = session.info.get(_FEED)
    if pending and feed is not None:
        for channel, key in pending:
            feed.deliver(channel, key)


@event.listens_for(ChangeSession, "after_soft_rollback")
def _forget(session: SyncSession, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def recheck_interval(url: str) -> float | None:
    """How often a waiter must re-read on its own: never where every change is pushed
    (SQLite is one process; PostgreSQL notifies), every second elsewhere (MySQL)."""
    backend = make_url(url).get_backend_name()
    return None if backend in ("sqlite", "postgresql") else 1.0


class ChangeFeed:
    """This replica's end of the change stream: delivers its own commits at once and, under
    PostgreSQL, the other replicas' commits from one LISTEN connection."""

    def __init__(self, url: str, deliver: Deliver, wake_all: Callable[[], None]) -> None:
        self.deliver = deliver
        self.wake_all = wake_all
        self.notifies = is_postgresql(url)
        self.replica = uuid.uuid4().hex[:12]  # our own NOTIFYs were delivered at commit
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.reconnects = 0

    @property
    def is_listening(self) -> bool:
        """Whether other replicas' changes reach this one now (always, where none exist)."""
        return not self.notifies or self._listening.is_set()

    @property
    def session_info(self) -> dict[str, Any]:
        return {_FEED: self}

    async def start(self, timeout: float = 30.0) -> None:
        """Begin listening (PostgreSQL); returns once the first LISTEN is in place."""
        if not self.notifies:
            return
        self._task = asyncio.create_task(self._listen())
        waiter = asyncio.create_task(self._listening.wait())
        await asyncio.wait([waiter, self._task], timeout=timeout, return_when="FIRST_COMPLETED")
        waiter.cancel()
        if not self._listening.is_set():
            await self.stop()
            raise ConnectionError("could not LISTEN for changes on the database")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _listen(self) -> None:
        delay = 0.05
        while True:
            try:
                await self._listen_once()
            except (psycopg.Error, OSError) as exc:
                log.warning("change listener lost the database (%s); reconnecting", exc)
            if self._listening.is_set():  # it had worked: retry soon
                delay = 0.05
            self._listening.clear()
            self.wake_all()  # whatever was committed meanwhile: waiters re-read
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            self.reconnects += 1

    async def _listen_once(self) -> None:
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, application_name=f"dockyard-listen-{self.replica}",
            keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
        )  # fmt: skip
        async with conn:
            for channel in CHANNELS:
                await conn.execute(f"LISTEN {channel}")
            self._listening.set()
            self.wake_all()  # changes made before LISTEN took effect are re-read
            async for note in conn.notifies():
                replica, _, key = note.payload.partition(":")
                if replica != self.replica:
                    self.deliver(note.channel, key)
