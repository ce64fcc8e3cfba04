"""Stream tokens: redeemed at most once, even by two replicas at the same moment."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from dockyard.db.engine import (
    Sessions,
    create_engine,
    session_factory,
    transaction,
    upgrade_to_head,
)
from dockyard.db.repositories.streamtokens import StreamTokenRepository
from dockyard.db.streams_tables import StreamTokenRow
from dockyard.db.tables import utcnow
from tests.support.database import fresh_database


def _token(digest: str, lifetime: timedelta) -> StreamTokenRow:
    now = utcnow()
    return StreamTokenRow(
        digest=digest, kind="exec", container_uuid="c" * 36, project_id="p", exec_id="e" * 64,
        created_at=now, expires_at=now + lifetime,
    )  # fmt: skip


async def _redeem(sessions: Sessions, digest: str) -> bool:
    async with transaction(sessions) as session:
        return await StreamTokenRepository(session).redeem(digest, utcnow())


async def test_a_token_is_redeemed_once_whoever_asks(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        upgrade_to_head(url)
        # two engines: two connections that know nothing of each other, like two replicas
        engines = [create_engine(url), create_engine(url)]
        sessions = [session_factory(e) for e in engines]
        try:
            async with transaction(sessions[0]) as session:
                for n in range(5):
                    await StreamTokenRepository(session).add(
                        _token(f"{n:064d}", timedelta(seconds=30))
                    )
            for n in range(5):
                won = await asyncio.gather(*(_redeem(s, f"{n:064d}") for s in sessions))
                assert sorted(won) == [False, True]
            assert await _redeem(sessions[1], "0" * 64) is False  # and never again
        finally:
            for engine in engines:
                await engine.dispose()


async def test_an_expired_or_unknown_token_is_not_redeemed(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        upgrade_to_head(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        try:
            async with transaction(sessions) as session:
                repo = StreamTokenRepository(session)
                await repo.add(_token("a" * 64, timedelta(seconds=-1)))
                await repo.add(_token("b" * 64, -timedelta(hours=2)))
            assert await _redeem(sessions, "a" * 64) is False
            assert await _redeem(sessions, "f" * 64) is False
            async with transaction(sessions) as session:
                repo = StreamTokenRepository(session)
                await repo.purge(utcnow())  # long expired tokens go; recent ones stay
                assert await repo.find("b" * 64) is None
                found = await repo.find("a" * 64)
                assert found is not None
                assert found.used_at is None
        finally:
            await engine.dispose()
