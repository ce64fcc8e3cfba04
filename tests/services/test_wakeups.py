"""Waits that end when a change commits: on the same replica, and across replicas on
PostgreSQL (LISTEN/NOTIFY). Timeouts are long, so a wake-up that does not come fails."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from dockyard.db.engine import transaction, upgrade_to_head
from dockyard.db.repositories.hosts import HostRepository
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import ContainerNotFound, HostNotFound
from dockyard.schemas.agent import ContainerReport, ReportBatch
from dockyard.schemas.containers import ContainerCreate
from dockyard.services.policy import Policy
from dockyard.services.signals import HostSignals
from tests.services.conftest import Stack, registration, replica, two_replicas
from tests.support.database import fresh_postgres

POLICY = Policy()  # the defaults; the API layer gives each request the operator's
ADMIN = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"admin"}), policy=POLICY)
LONG = 60.0  # what the waits are given
SOON = 10.0  # what a wake-up may take on a loaded machine; far below LONG


def spec(name: str) -> ContainerCreate:
    return ContainerCreate(
        name=name, image="img", command=["true"], cpu=0.1, memory=64, sandbox_mode="standalone"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Stack, Stack]]:
    """Two replicas on one database; SQLite is one process, so there they are the same."""
    async with two_replicas(request.param, tmp_path, same_on_sqlite=True) as pair:
        yield pair


async def until(predicate: Callable[[], bool], what: str) -> None:
    """Let other tasks run until predicate() holds (bounded by SOON)."""
    async with asyncio.timeout(SOON):
        while not predicate():  # noqa: ASYNC110 - any predicate over state: no event to wait on
            await asyncio.sleep(0.005)
    assert predicate(), what


async def test_create_on_one_replica_ends_the_long_poll_on_the_other(
    pair: tuple[Stack, Stack],
) -> None:
    first, second = pair
    host = await first.hosts.register(registration(cpus=4))
    poll = asyncio.create_task(first.hosts.assignments(host.uuid, host.revision, LONG))
    await until(lambda: first.signals.waiting(host.uuid) == 1, "the long-poll to wait")
    row = await second.containers.create(ADMIN, spec("xx"), run=True, legacy_command=False)
    batch = await asyncio.wait_for(poll, SOON)
    assert [a.uuid for a in batch.containers] == [row.uuid]
    assert len(first.signals) == 0, "the finished long-poll left its entry behind"


async def test_a_report_on_one_replica_answers_wait_status_on_the_other(
    pair: tuple[Stack, Stack],
) -> None:
    first, second = pair
    host = await first.hosts.register(registration(cpus=4))
    row = await first.containers.create(ADMIN, spec("yy"), run=True, legacy_command=False)
    await first.placed(ADMIN, row)
    watch = first.wakeups.containers
    waiter = asyncio.create_task(
        first.containers.wait_for_status(ADMIN, row.uuid, frozenset({"Running"}), LONG)
    )
    await until(lambda: watch.waiting(row.uuid) == 1, "wait_status to wait")
    report = ContainerReport(uuid=row.uuid, generation=1, status="Running", container_id="c1")
    await second.hosts.apply_reports(host.uuid, ReportBatch(reports=[report]))
    shown = await asyncio.wait_for(waiter, SOON)
    assert shown.status == "Running"
    assert len(watch) == 0


async def test_a_rolled_back_change_wakes_nobody(pair: tuple[Stack, Stack]) -> None:
    first, second = pair
    kept = await first.hosts.register(registration("kept"))
    undone = await first.hosts.register(registration("undone"))
    with first.signals.watching(undone.uuid) as quiet, first.signals.watching(kept.uuid) as loud:
        quiet_seen, loud_seen = quiet.version, loud.version

        async def bump_then_roll_back() -> None:
            async with transaction(second.hosts.sessions) as session:
                await HostRepository(session).bump_revision(undone.uuid)
                raise RuntimeError("roll back")

        with pytest.raises(RuntimeError, match="roll back"):
            await bump_then_roll_back()
        async with transaction(second.hosts.sessions) as session:
            await HostRepository(session).bump_revision(kept.uuid)
        # Notifications arrive in commit order: once the later one is here, an earlier
        # one would have been too.
        assert await loud.wait(loud_seen, SOON)
        assert quiet.version == quiet_seen


async def test_watches_of_unknown_uuids_leave_nothing_behind(stack: Stack) -> None:
    for _ in range(200):
        with pytest.raises(ContainerNotFound):
            await stack.containers.wait_for_status(
                ADMIN, str(uuid.uuid4()), frozenset({"Running"}), LONG
            )
        with pytest.raises(HostNotFound):
            await stack.hosts.assignments(str(uuid.uuid4()), 0, LONG)
    assert len(stack.wakeups.containers) == 0
    assert len(stack.wakeups.hosts) == 0


async def test_many_watchers_of_one_container_share_one_entry_until_the_last_leaves(
    stack: Stack,
) -> None:
    host = await stack.hosts.register(registration(cpus=4))
    row = await stack.containers.create(ADMIN, spec("zz"), run=True, legacy_command=False)
    await stack.placed(ADMIN, row)
    watch = stack.wakeups.containers
    waits = [
        asyncio.create_task(
            stack.containers.wait_for_status(ADMIN, row.uuid, frozenset({"Running"}), LONG)
        )
        for _ in range(20)
    ]
    await until(lambda: watch.waiting(row.uuid) == 20, "all 20 to wait")
    assert len(watch) == 1
    report = ContainerReport(uuid=row.uuid, generation=1, status="Running", container_id="c1")
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[report]))
    shown = await asyncio.wait_for(asyncio.gather(*waits), SOON)
    assert {s.status for s in shown} == {"Running"}
    assert len(watch) == 0


async def test_a_listener_that_loses_its_connection_wakes_everyone_and_reconnects(
    tmp_path: Path,
) -> None:
    with fresh_postgres() as url:
        upgrade_to_head(url)
        async with replica(url, tmp_path) as first, replica(url, tmp_path) as second:
            host = await first.hosts.register(registration(cpus=4))
            with first.signals.watching(host.uuid) as watch:
                seen = watch.version
                async with second.engine.connect() as conn:
                    await conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE application_name = :name"
                        ),
                        {"name": f"dockyard-listen-{first.feed.replica}"},
                    )
                assert await watch.wait(seen, SOON), "a lost listener must wake its waiters"
            await until(lambda: first.feed.reconnects >= 1, "the listener to reconnect")
            await until(lambda: first.feed.is_listening, "the listener to listen again")
            poll = asyncio.create_task(first.hosts.assignments(host.uuid, host.revision, LONG))
            await until(lambda: first.signals.waiting(host.uuid) == 1, "the long-poll to wait")
            await second.containers.create(ADMIN, spec("after"), run=True, legacy_command=False)
            batch = await asyncio.wait_for(poll, SOON)
            assert len(batch.containers) == 1


async def test_close_ends_every_wait_at_once() -> None:
    signals = HostSignals()
    with signals.watching("k") as watch:
        waiter = asyncio.create_task(watch.wait(watch.version, LONG))
        await until(lambda: signals.waiting("k") == 1, "the wait to start")
        signals.close()
        assert await asyncio.wait_for(waiter, SOON)
