"""Services over a real, freshly migrated database (SQLite, or PostgreSQL when asked)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dockyard.db.changes import ChangeFeed
from dockyard.db.engine import create_engine, session_factory, upgrade_to_head
from dockyard.schemas.agent import HostRegistration
from dockyard.services.containers import ContainerService
from dockyard.services.hostcalls import HostCalls
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.hosts import HostService
from dockyard.services.signals import HostSignals, Wakeups
from dockyard.settings import Settings
from tests.support.database import fresh_database


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
    hostcalls = HostCalls()
    directory = HostDirectory(sessions, settings.scheduler)
    try:
        yield Stack(
            containers=ContainerService(
                sessions, settings, hostcalls, directory, wakeups.containers
            ),
            hosts=HostService(sessions, settings, wakeups.hosts, directory),
            signals=wakeups.hosts,
            settings=settings,
            wakeups=wakeups,
            feed=feed,
            engine=engine,
        )
    finally:
        await feed.stop()
        await hostcalls.close()
        await engine.dispose()


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
