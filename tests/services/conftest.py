"""Services over a real, freshly migrated database (SQLite, or PostgreSQL when asked)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dockyard.client.hostapi import HostApiClient
from dockyard.db.changes import ChangeFeed
from dockyard.db.engine import create_engine, session_factory, upgrade_to_head
from dockyard.db.tables import ContainerRow
from dockyard.domain.tenancy import RequestContext
from dockyard.schemas.agent import HostRegistration
from dockyard.services.batchscheduler import Scheduler
from dockyard.services.containers import ContainerService
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.hosts import HostService
from dockyard.services.signals import HostSignals, Wakeups
from dockyard.settings import Settings
from tests.support.database import fresh_database, fresh_postgres


@dataclass
class Stack:
    """One control-plane replica's services over a database."""

    containers: ContainerService
    hosts: HostService
    signals: HostSignals
    settings: Settings
    wakeups: Wakeups
    feed: ChangeFeed
    engine: AsyncEngine
    scheduler: Scheduler

    async def placed(self, ctx: RequestContext, *rows: ContainerRow) -> list[ContainerRow]:
        """rows as they are once a scheduler has placed (or failed) them.

        This replica's loop and drain() take turns; another replica's batch may still hold
        a row (uncommitted): then look again shortly.
        """
        while True:
            await self.scheduler.drain()
            now = [await self.containers.get(ctx, row.uuid) for row in rows]
            if not any(r.host_uuid is None and r.status == "Creating" for r in now):
                return now
            await asyncio.sleep(0.01)


@asynccontextmanager
async def replica(url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """The services of one API replica on url (migrated already), wired as create_app does."""
    engine = create_engine(url)
    wakeups = Wakeups()
    feed = ChangeFeed(url, wakeups.deliver, wakeups.wake_all)
    await feed.start()
    sessions = session_factory(engine, feed)
    settings = Settings(data_dir=tmp_path)
    settings.scheduler.cpu_allocation_ratio = 1.0
    settings.scheduler.ram_allocation_ratio = 1.0
    hostcalls = HostApiClient()
    directory = HostDirectory(sessions, settings.scheduler)
    wakeups.followers.append(directory)
    scheduler = Scheduler(sessions, settings.scheduler, directory, wakeups.schedule)
    scheduler.start()  # as in a replica: creates wake it at commit
    try:
        yield Stack(
            containers=ContainerService(
                sessions, settings, hostcalls, directory, wakeups.containers, placer=scheduler
            ),
            hosts=HostService(sessions, settings, wakeups.hosts, directory),
            signals=wakeups.hosts,
            settings=settings,
            wakeups=wakeups,
            feed=feed,
            engine=engine,
            scheduler=scheduler,
        )
    finally:
        await scheduler.stop()
        await feed.stop()
        await hostcalls.close()
        await engine.dispose()


@asynccontextmanager
async def two_replicas(
    dialect: str, tmp_path: Path, *, same_on_sqlite: bool = False
) -> AsyncIterator[tuple[Stack, Stack]]:
    """Two replicas on one fresh database at head, "sqlite" (two engines on one file) or
    "postgresql"; with same_on_sqlite, SQLite's pair is one replica twice (one process)."""
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
        upgrade_to_head(url)
        if same_on_sqlite:
            async with replica(url, tmp_path) as one:
                yield one, one
            return
        async with replica(url, tmp_path) as first, replica(url, tmp_path) as second:
            yield first, second
        return
    with fresh_postgres() as url:
        upgrade_to_head(url)
        async with replica(url, tmp_path) as first, replica(url, tmp_path) as second:
            yield first, second


@asynccontextmanager
async def quiet_replicas(dialect: str, tmp_path: Path) -> AsyncIterator[tuple[Stack, Stack]]:
    """two_replicas with their scheduler loops stopped, so that a test runs the batches it
    means to (or none), and with no quota (containers, CPU, memory) in the way."""
    async with two_replicas(dialect, tmp_path) as (first, second):
        yield await quiet(first), await quiet(second)


async def quiet(stack: Stack) -> Stack:
    """The replica with its scheduler loop stopped and no quota in the way; the same stack."""
    await stack.scheduler.stop()
    stack.settings.quota.containers = -1
    stack.settings.quota.cpu = -1
    stack.settings.quota.memory = -1
    return stack


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    with fresh_database(tmp_path) as url:
        upgrade_to_head(url)
        async with replica(url, tmp_path) as one:
            yield one


def registration(
    hostname: str = "host-a", cpus: int = 1, mem_total: int = 1024
) -> HostRegistration:
    return HostRegistration(
        hostname=hostname, agent_url="http://127.0.0.1:1", agent_token="host-api-secret-0123456789",
        cpus=cpus, mem_total=mem_total, disk_total=10, runtimes=["runc"],
    )  # fmt: skip
