"""Write transactions: a read-check-write is atomic on SQLite, counters count every change."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from dockyard.db.changes import ChangeFeed
from dockyard.db.engine import (
    Sessions,
    create_engine,
    session_factory,
    transaction,
    upgrade_to_head,
)
from dockyard.db.tables import HostRow

TAKE = 0.3  # how long a transaction that has read waits for the other to read too


def _host() -> HostRow:
    return HostRow(
        hostname="h1", agent_url="http://127.0.0.1:1", agent_token="t", cpus=1, mem_total=64,
        disk_total=1, cpu_used=0.0, mem_used=0, disk_used=0,
    )  # fmt: skip


async def _take_last_cpu(
    sessions: Sessions, host_uuid: str, mine: asyncio.Event, other: asyncio.Event
) -> bool:
    """Read the host, let the other writer read too if it can, then claim the cpu if free."""
    async with transaction(sessions) as session:
        host = await session.get(HostRow, host_uuid)
        assert host is not None
        mine.set()
        with contextlib.suppress(TimeoutError):  # it cannot read while we hold the lock
            await asyncio.wait_for(other.wait(), TAKE)
        if host.cpu_used >= 1.0:
            return False
        host.cpu_used += 1.0
        return True


async def test_two_sqlite_read_check_writes_cannot_both_pass_the_check(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'atomic.db'}"
    upgrade_to_head(url)
    # Two engines: two connections that know nothing of each other, like two processes.
    engines = [create_engine(url), create_engine(url)]
    sessions = [session_factory(e) for e in engines]
    try:
        async with transaction(sessions[0]) as session:
            host = _host()
            session.add(host)
        for _ in range(3):
            first, second = asyncio.Event(), asyncio.Event()
            won = await asyncio.gather(
                _take_last_cpu(sessions[0], host.uuid, first, second),
                _take_last_cpu(sessions[1], host.uuid, second, first),
            )
            assert sorted(won) == [False, True], "exactly one writer may pass the check"
            async with transaction(sessions[1]) as session:
                stored = await session.get(HostRow, host.uuid)
                assert stored is not None
                assert stored.cpu_used == 1.0
                stored.cpu_used = 0.0
    finally:
        for engine in engines:
            await engine.dispose()


async def test_reads_outside_write_transactions_do_not_take_the_write_lock(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'reads.db'}"
    upgrade_to_head(url)
    engines = [create_engine(url), create_engine(url)]
    feed = ChangeFeed(url, lambda _c, _k: None, lambda: None)
    reader, writer = session_factory(engines[0], feed), session_factory(engines[1], feed)
    try:
        async with transaction(writer) as session:
            session.add(_host())
        async with reader() as session:  # a read session stays open…
            assert len((await session.scalars(HostRow.__table__.select())).all()) == 1
            async with asyncio.timeout(5):  # …and a writer is not kept waiting by it
                async with transaction(writer) as other:
                    (await other.scalars(HostRow.__table__.select())).all()
    finally:
        for engine in engines:
            await engine.dispose()
