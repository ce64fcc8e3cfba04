"""Cluster leases: replicas taking clusters at once get disjoint ones; a lease ends by
release or by running out (a dead replica), and then another replica takes the cluster."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from dockyard.db.clusters_tables import ClusterProfileRow, ClusterRow
from dockyard.db.engine import Sessions, create_engine, session_factory, transaction
from dockyard.db.engine import upgrade_to_head as upgrade
from dockyard.db.repositories.clusters import LeaseRepository
from dockyard.db.tables import utcnow
from tests.support.database import fresh_database, fresh_postgres


@pytest.fixture(params=["default", "postgresql"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Sessions]:
    opener = fresh_postgres() if request.param == "postgresql" else fresh_database(tmp_path)
    with opener as url:
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        try:
            yield session_factory(engine)
        finally:
            await engine.dispose()


async def add_clusters(sessions: Sessions, count: int) -> set[str]:
    async with transaction(sessions) as session:
        profile = ClusterProfileRow(project_id="p", user_id="u", name="p", type="t", spec={},
                                    meta_data={})  # fmt: skip
        session.add(profile)
        await session.flush()
        rows = [
            ClusterRow(
                project_id="p",
                user_id="u",
                name=f"c{i}",
                profile_id=profile.id,
                status="ACTIVE",
                desired_capacity=0,
                min_size=0,
                max_size=-1,
                timeout=1,
                meta_data={},
                config={},
                data={},
                next_index=1,
            )
            for i in range(count)
        ]
        session.add_all(rows)
    return {r.id for r in rows}


async def take(sessions: Sessions, owner: str, limit: int = 10, ahead: float = 30) -> set[str]:
    now = utcnow()
    async with transaction(sessions) as session:
        return set(await LeaseRepository(session).take(owner, now, now + timedelta(seconds=ahead),
                                                        limit))  # fmt: skip


async def test_replicas_taking_at_once_get_disjoint_clusters(sessions: Sessions) -> None:
    clusters = await add_clusters(sessions, 6)
    first, second = await asyncio.gather(take(sessions, "a", 3), take(sessions, "b", 10))
    assert not first & second
    assert first | second == clusters
    assert await take(sessions, "c") == set()


async def test_released_and_expired_leases_go_to_another_replica(sessions: Sessions) -> None:
    clusters = await add_clusters(sessions, 2)
    held = await take(sessions, "a", 1)
    expiring = await take(sessions, "b", 1, ahead=-1)  # its replica died: already run out
    assert held | expiring == clusters
    assert await take(sessions, "c") == expiring
    async with transaction(sessions) as session:
        await LeaseRepository(session).release("a", next(iter(held)), None)
    assert await take(sessions, "d") == held
