"""SQLite connections: reads run on the event loop, what may wait runs in the connection's
thread, and a writer waiting for the lock never holds up the loop or the readers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dockyard.db.engine import create_engine, session_factory, transaction
from dockyard.db.sqlite import never_waits


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    await engine.dispose()


async def _thread_of(conn: AsyncConnection, sql: str) -> str:
    """The thread a statement calling where() ran on."""
    seen: list[str] = []

    def where() -> int:
        seen.append(threading.current_thread().name)
        return 1

    raw = await conn.get_raw_connection()
    assert raw.driver_connection is not None
    await raw.driver_connection.create_function("where_am_i", 0, where)
    await conn.execute(text(sql))
    assert len(seen) == 1
    return seen[0]


async def test_reads_run_on_the_loop_and_writes_in_the_connection_thread(
    engine: AsyncEngine,
) -> None:
    loop_thread = threading.current_thread().name
    async with engine.begin() as conn:
        assert await _thread_of(conn, "SELECT where_am_i()") == loop_thread
        assert await _thread_of(conn, "INSERT INTO t VALUES (where_am_i())") == "sqlite"
        assert await _thread_of(conn, "UPDATE t SET x = where_am_i()") == "sqlite"
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT x FROM t"))).scalar_one() == 1


async def test_a_write_transaction_holding_the_lock_writes_on_the_loop_and_commits_in_the_thread(
    engine: AsyncEngine,
) -> None:
    """After BEGIN IMMEDIATE took the lock, its rows are written at once (nothing to wait
    for): the transaction's COMMIT is its only thread hop."""
    loop_thread = threading.current_thread().name
    async with transaction(session_factory(engine)) as session:
        conn = await session.connection()
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert await _thread_of(conn, "INSERT INTO t VALUES (where_am_i())") == loop_thread
        assert await _thread_of(conn, "UPDATE t SET x = where_am_i() + 1") == loop_thread
        assert driver is not None
        assert driver.holds_write_lock
        busy = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
        assert busy == 30000  # BEGIN's try without waiting left the timeout as it was
    assert not driver.holds_write_lock
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT x FROM t"))).scalar_one() == 2


async def test_a_write_transaction_waits_in_the_thread_for_a_lock_another_holds(
    engine: AsyncEngine,
) -> None:
    """BEGIN IMMEDIATE is tried at once; the lock taken (by another connection here, by
    another process in life), it waits for it in the thread, not failing and not on the loop."""
    sessions = session_factory(engine)

    async def write(value: int) -> None:
        async with transaction(sessions) as session:
            await session.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})

    await write(1)  # the lock free: taken at once
    async with engine.connect() as holder:
        await holder.execute(text("INSERT INTO t VALUES (2)"))  # holds the write lock
        waiting = asyncio.create_task(write(3))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # waits for the lock (busy_timeout), the loop runs on
        await holder.commit()
    await asyncio.wait_for(waiting, 10)
    async with engine.connect() as reader:
        rows = (await reader.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all()
        assert rows == [1, 2, 3]


async def test_a_writer_waiting_for_the_lock_holds_up_neither_loop_nor_readers(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as holder:
        await holder.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock
        second = asyncio.create_task(_insert(engine, 2))
        await asyncio.sleep(0.2)
        assert not second.done()  # it waits for the lock (busy_timeout) ...
        async with engine.connect() as reader:  # ... while reads still answer
            rows = (await reader.execute(text("SELECT count(*) FROM t"))).scalar_one()
        assert rows == 0  # the holder has not committed yet
        await holder.commit()
    await asyncio.wait_for(second, 10)
    async with engine.connect() as reader:
        assert (await reader.execute(text("SELECT x FROM t ORDER BY x"))).scalars().all() == [1, 2]


async def _insert(engine: AsyncEngine, value: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})


async def test_a_failing_write_raises_in_the_caller_and_rolls_back(engine: AsyncEngine) -> None:
    async def write_then_fail() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            await conn.execute(text("INSERT INTO missing VALUES (1)"))

    with pytest.raises(Exception, match="no such table"):
        await write_then_fail()
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", True),
        ("  select x from t", True),
        ("BEGIN", True),
        ("BEGIN DEFERRED", True),
        ("ROLLBACK", True),
        ("BEGIN IMMEDIATE", False),
        ("INSERT INTO t VALUES (1)", False),
        ("UPDATE t SET x = 1", False),
        ("DELETE FROM t", False),
        ("WITH q AS (SELECT 1) DELETE FROM t", False),
        ("COMMIT", False),
        ("PRAGMA journal_mode=WAL", False),
        ("SELECTED", False),
    ],
)
def test_only_statements_that_take_no_lock_count_as_never_waiting(sql: str, expected: bool) -> None:
    assert never_waits(sql) is expected
