"""Database engine, sessions and schema upgrades; every dialect difference lives in db/."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from dockyard.db.changes import ChangeFeed, ChangeSession
from dockyard.db.sqlite import connector
from dockyard.db.tables import HostRow
from dockyard.errors import DuplicateEntry

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# What services hold: a session factory; they open one session per use case.
Session = AsyncSession
Sessions = async_sessionmaker[AsyncSession]


# Marks a connection's transaction as one that writes (SQLite then takes the write lock first).
_WRITES = "dockyard_writes"


# Per SQLite engine and event loop: the turn to write. See transaction().
_write_turns: weakref.WeakKeyDictionary[Any, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _write_turn(sessions: Sessions) -> asyncio.Lock | None:
    """The lock SQLite writers of this process queue on; None for other databases."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return None
    per_loop = _write_turns.setdefault(bind.sync_engine, {})
    loop = asyncio.get_running_loop()
    turn = per_loop.get(loop)
    if turn is None:
        for old in [known for known in per_loop if known.is_closed()]:
            del per_loop[old]
        turn = per_loop[loop] = asyncio.Lock()
    return turn


@asynccontextmanager
async def transaction(sessions: Sessions) -> AsyncIterator[Session]:
    """One write transaction; a unique-constraint violation surfaces as DuplicateEntry.

    Under SQLite it begins with BEGIN IMMEDIATE: it holds the write lock from its first read,
    so a read-check-write is atomic (two writers cannot both pass the check, and none fails
    half-way when the other commits first). PostgreSQL gets the same from row locks
    (`for_update`) and conditional updates.

    SQLite writers of one process first queue on an asyncio lock, in arrival order. Left to
    SQLite, a writer that finds the lock taken sleeps in its busy handler (1, 2, 5 … 100 ms
    steps) and wakes late: under a stream of creates, that oversleeping made p99s of
    hundreds of milliseconds. busy_timeout still covers writers of other processes.
    """
    turn = _write_turn(sessions)
    async with turn if turn is not None else contextlib.nullcontext():
        try:
            async with sessions.begin() as session:
                await session.connection(execution_options={_WRITES: True})
                yield session
        except IntegrityError as exc:
            raise DuplicateEntry(str(exc.orig)) from exc


@asynccontextmanager
async def reading(sessions: Sessions) -> AsyncIterator[AsyncConnection]:
    """A connection for Core reads, without an ORM session: for the hottest reads (a GET
    of a container), the session's set-up and the ORM's result loading cost as much CPU as
    the query itself. The same pool and the same BEGIN as a session's."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncEngine):
        async with bind.connect() as connection:
            yield connection
        return
    async with sessions() as session:  # a factory bound some other way
        yield await session.connection()


# SQLite connections kept open. Making one costs a thread, a file open and four PRAGMAs (a
# millisecond or more); with the default pool (5 + 10 overflow closed after use), a burst of
# concurrent requests made and dropped connections on every request past the fifth. Beyond
# this many, requests wait for a connection: SQLite has one writer, and reads on the event
# loop's thread run one at a time anyway.
SQLITE_POOL = 20


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions on its own (it would BEGIN DEFERRED only before
    # the first write, after the reads a check made); _sqlite_begin opens every one.
    dbapi_connection.isolation_level = None
    # WAL lets readers run beside the one writer; busy_timeout makes writers queue instead of
    # failing with "database is locked"; NORMAL sync is crash-safe for a process kill.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    writes = connection.get_execution_options().get(_WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def create_engine(url: str, echo: bool = False) -> AsyncEngine:
    """An async engine for url, with the per-dialect settings Dockyard relies on."""
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Our connections, not aiosqlite's: reads skip the thread hand-offs (db/sqlite.py).
        engine = create_async_engine(
            url, echo=echo, async_creator=connector(path or "", 30.0),
            pool_size=SQLITE_POOL, max_overflow=0,
        )  # fmt: skip
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    return create_async_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)


def session_factory(
    engine: AsyncEngine, feed: ChangeFeed | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions whose published changes reach feed's waiters (and other replicas) at commit."""
    return async_sessionmaker(
        engine,
        expire_on_commit=False,
        sync_session_class=ChangeSession,
        info=feed.session_info if feed is not None else {},
    )


def sync_url(url: str) -> str:
    """The synchronous driver URL Alembic runs with (aiosqlite→pysqlite, psycopg stays)."""
    parsed = make_url(url)
    driver = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql+psycopg"}
    name = parsed.drivername
    return parsed.set(drivername=driver.get(name, name)).render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


# pg_advisory_lock key of schema upgrades (any fixed number; "dockyard" in ASCII).
_MIGRATION_LOCK = 0x646F636B79617264


def upgrade_to_head(url: str) -> None:
    """Bring the schema at url to the newest migration (blocking; call before serving).

    Under PostgreSQL, replicas starting together take turns on an advisory lock: the first
    upgrades, the others then find the schema at head and do nothing. The lock is held by a
    connection of its own, so a replica killed mid-upgrade releases it with that connection.
    """
    if is_sqlite(url):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() != "postgresql":
        command.upgrade(alembic_config(url), "head")
        return
    engine = create_sync_engine(sync_url(url), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
            try:
                command.upgrade(alembic_config(url), "head")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
    finally:
        engine.dispose()


async def registered_host_uuids(url: str) -> list[str]:
    """The uuid of every host registered in the database at url (none if it has no schema)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if not await connection.run_sync(lambda c: inspect(c).has_table(HostRow.__tablename__)):
                return []
            return list((await connection.execute(select(HostRow.uuid))).scalars())
    finally:
        await engine.dispose()
