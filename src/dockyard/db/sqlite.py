"""SQLite connections for the async engine: reads on the event loop, writes in one thread hop.

SQLAlchemy's aiosqlite dialect drives these through `create_async_engine(async_creator=…)`
in place of aiosqlite's own. aiosqlite sends every DB-API call to the connection's thread
and back: a cursor, the execute, the fetch, the cursor's close and the rollback at the end
of a session are five round trips for one SELECT. Each round trip wakes a thread that must
take the GIL from a busy event loop (up to the 5 ms switch interval) and then wakes the loop
through its self-pipe; under load that hand-off, not SQLite, was most of a read's latency
and CPU.

Here a statement that cannot wait on another connection runs at once on the caller's thread:
in WAL mode a reader never waits for the writer, a deferred BEGIN takes no lock and a
ROLLBACK only drops this connection's own changes. It costs less than a hand-off would.
Everything that may wait for the write lock (busy_timeout) or for the disk — BEGIN
IMMEDIATE, COMMIT with its checkpoint, PRAGMAs, and writes outside a transaction that holds
the lock — still runs in the connection's own thread, one hop per statement with its rows
fetched in the same hop. Once this connection's BEGIN IMMEDIATE has taken the write lock,
its INSERT, UPDATE and DELETE cannot wait for another connection (in WAL mode readers never
block the writer) and write only to its page cache until COMMIT: they run at once too. A
write transaction (a report's apply, a create's) is then two hops, its BEGIN and its COMMIT,
not one per statement. Its BEGIN IMMEDIATE is first tried at once without waiting (the
lock is usually free: this process's writers queue on an asyncio lock before it); only
when another process holds the lock does it go to the thread to wait there. That leaves the
COMMIT as a write transaction's one hop.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from queue import SimpleQueue
from typing import Any

# A statement that only reads, or opens/ends a transaction without taking a lock.
_NEVER_WAITS = re.compile(
    r"\s*(SELECT\b|ROLLBACK\b|BEGIN(\s+DEFERRED)?(\s+TRANSACTION)?\s*;?\s*$)", re.IGNORECASE
)
# A statement that writes rows: it cannot wait while this connection holds the write lock.
_WRITES_ROWS = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
_TAKES_WRITE_LOCK = re.compile(r"\s*BEGIN\s+IMMEDIATE\b", re.IGNORECASE)
_STOP = object()

Job = tuple["asyncio.Future[Any] | None", Callable[[], Any]]


def never_waits(sql: str) -> bool:
    """Whether sql can run without waiting for a lock held by another connection."""
    return _NEVER_WAITS.match(sql) is not None


def writes_under_lock(sql: str) -> bool:
    """Whether sql only writes rows (no lock of its own to wait for once the write lock is
    held: not a BEGIN, COMMIT, PRAGMA or schema change)."""
    return _WRITES_ROWS.match(sql) is not None


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _work(jobs: SimpleQueue[Job]) -> None:
    """The connection's thread: run jobs in order until the stop job."""
    while True:
        future, function = jobs.get()
        result: Any = None
        error: BaseException | None = None
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting task, raised there
            error = exc
        if future is not None:
            future.get_loop().call_soon_threadsafe(_settle, future, result, error)
        if result is _STOP:
            return


class SqliteConnection:
    """The subset of aiosqlite.Connection that SQLAlchemy's aiosqlite dialect uses.

    `_conn` and `_tx` keep aiosqlite's names: the dialect's isolation_level setter sends
    (future, function) jobs to `_tx` itself.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # None once closed
        self._tx: SimpleQueue[Job] = SimpleQueue()
        self._hops = 0  # jobs sent to the thread and not yet answered
        self._write_locked = False  # a BEGIN IMMEDIATE took the lock; no COMMIT/ROLLBACK since
        self._thread = threading.Thread(target=_work, args=(self._tx,), name="sqlite", daemon=True)
        self._thread.start()

    async def _hop(self, function: Callable[[], Any]) -> Any:
        """Run function in this connection's thread and wait for its result."""
        if self._connection is None:
            raise ValueError("Connection closed")
        future = asyncio.get_running_loop().create_future()
        self._hops += 1
        self._tx.put_nowait((future, function))
        try:
            return await future
        finally:
            self._hops -= 1

    def may_run_here(self, sql: str) -> bool:
        """Whether sql may run on the caller's thread: it cannot wait for another connection,
        and nothing of this connection is still running in its thread (after a cancelled
        wait it may be; SQLite would then hold the caller until it ends)."""
        if self._hops != 0:
            return False
        return never_waits(sql) or (self.holds_write_lock and writes_under_lock(sql))

    @property
    def holds_write_lock(self) -> bool:
        """Whether this connection's open transaction took the write lock (BEGIN IMMEDIATE).
        SQLite ends a transaction by itself on some errors: then it no longer holds it."""
        return self._write_locked and self._conn.in_transaction

    def lock_at_once(self, sql: str, run: Callable[[], Any]) -> bool:
        """Run sql, a BEGIN IMMEDIATE, here if the write lock is free now (True); False when
        it is not (another process holds it), or something of this connection is still in
        its thread: then it is for the thread, to wait with the busy timeout."""
        if self._hops != 0 or not _TAKES_WRITE_LOCK.match(sql):
            return False
        (waits,) = self._conn.execute("PRAGMA busy_timeout").fetchone()
        self._conn.execute("PRAGMA busy_timeout=0")
        try:
            run()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # any BUSY_* extended
                raise
            return False
        finally:
            self._conn.execute(f"PRAGMA busy_timeout={int(waits)}")
        self._write_locked = True
        return True

    def took_write_lock(self, sql: str) -> None:
        """Note a statement run in the thread: a BEGIN IMMEDIATE that succeeded holds the lock."""
        if _TAKES_WRITE_LOCK.match(sql):
            self._write_locked = True

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def cursor(self) -> SqliteCursor:
        return SqliteCursor(self)

    async def commit(self) -> None:
        self._write_locked = False  # a failed COMMIT's statements go to the thread again
        if self._conn.in_transaction:  # else there is nothing to commit
            await self._hop(self._conn.commit)

    async def rollback(self) -> None:
        if self._connection is None:
            raise ValueError("Connection closed")
        self._write_locked = False
        if self.may_run_here("ROLLBACK"):
            self._conn.rollback()
        else:
            await self._hop(self._conn.rollback)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def _close(self) -> object:
        self._conn.close()
        return _STOP  # ends the thread

    async def close(self) -> None:
        if self._connection is None:
            return
        try:
            await self._hop(self._close)
        finally:
            self._connection = None

    def stop(self) -> None:
        """Close without waiting (SQLAlchemy's terminate when the loop is gone)."""
        if self._connection is not None:
            self._connection = None
            self._tx.put_nowait((None, self._close))


class SqliteCursor:
    """A cursor whose execute also fetches, so that a statement is at most one hop."""

    arraysize = 1

    def __init__(self, connection: SqliteConnection) -> None:
        self._connection = connection
        self._cursor = connection._conn.cursor()
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> SqliteCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _run(self, call: Callable[[], Any]) -> SqliteCursor:
        call()
        cursor = self._cursor
        self.description = cursor.description
        self._rows = cursor.fetchall() if cursor.description else []
        self.rowcount, self.lastrowid = cursor.rowcount, cursor.lastrowid
        return self

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> SqliteCursor:
        def call() -> Any:
            return self._cursor.execute(sql, parameters or ())

        if self._connection.may_run_here(sql):
            return self._run(call)
        if self._connection.lock_at_once(sql, lambda: self._run(call)):
            return self
        result: SqliteCursor = await self._connection._hop(lambda: self._run(call))
        self._connection.took_write_lock(sql)
        return result

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> SqliteCursor:
        def call() -> Any:
            return self._cursor.executemany(sql, rows)

        if self._connection.may_run_here(sql):
            return self._run(call)
        result: SqliteCursor = await self._connection._hop(lambda: self._run(call))
        return result

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []
        self._cursor.close()


def connector(path: str, timeout: float) -> Callable[[], Any]:
    """The async_creator for create_async_engine: a new connection to the file at path."""

    async def connect() -> SqliteConnection:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: reads run on the loop's thread, writes on the connection's.
        conn = await asyncio.to_thread(
            sqlite3.connect, path, timeout=timeout, check_same_thread=False
        )
        return SqliteConnection(conn)

    return connect
