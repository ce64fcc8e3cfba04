"""The agent loop against the fake runtime: races between resync, watch, events and reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from dockyard.agent.loop import Agent, AgentConfig
from dockyard.agent.membership import HostRemoved
from dockyard.runtime.fake import FakeRuntime
from tests.agent.fakeplane import HOST, IMAGE, FakeControlPlane, assignment
from tests.agent.units import until


def make_agent(plane: FakeControlPlane, runtime: FakeRuntime) -> Agent:
    config = AgentConfig(
        hostname="h", agent_url="http://127.0.0.1:9", agent_token="t" * 32,
        heartbeat_interval=3600, resync_interval=3600, watch_timeout=0.5, pool_size=0,
    )  # fmt: skip
    return Agent(config, runtime, plane, plane)  # type: ignore[arg-type]


@pytest.fixture
def runtime() -> FakeRuntime:
    return FakeRuntime("h", images=[IMAGE])


@pytest.fixture
def plane() -> FakeControlPlane:
    return FakeControlPlane()


@pytest.fixture
async def agent(plane: FakeControlPlane, runtime: FakeRuntime) -> AsyncIterator[Agent]:
    running = make_agent(plane, runtime)
    task = asyncio.create_task(running.run())
    await asyncio.wait_for(running.ready.wait(), 5)
    yield running
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def state(runtime: FakeRuntime, uuid: str) -> str | None:
    found = runtime.find_container(uuid)
    return found.state if found else None


def reported(plane: FakeControlPlane, uuid: str, status: str) -> Callable[[], bool]:
    return lambda: (last := plane.last(uuid)) is not None and last.status == status


async def test_resync_keeps_a_container_created_while_its_fetch_was_under_way(
    agent: Agent, plane: FakeControlPlane, runtime: FakeRuntime
) -> None:
    plane.hold_full, plane.full_fetched = asyncio.Event(), asyncio.Event()
    resync = asyncio.create_task(agent.full_sync())
    await plane.full_fetched.wait()  # the full set is read: it cannot contain "fresh"
    await plane.put(assignment("fresh"))
    await until(reported(plane, "fresh", "Running"), "the watch to create and start it")
    plane.hold_full.set()
    await resync
    await asyncio.sleep(0.1)  # an orphan removal, if any, would run now
    assert state(runtime, "fresh") == "running"
    assert "fresh" in agent.desired


async def test_resync_does_not_revive_a_container_deleted_while_its_fetch_was_under_way(
    agent: Agent, plane: FakeControlPlane, runtime: FakeRuntime
) -> None:
    await plane.put(assignment("doomed"))
    await until(reported(plane, "doomed", "Running"), "doomed to run")
    plane.hold_full, plane.full_fetched = asyncio.Event(), asyncio.Event()
    resync = asyncio.create_task(agent.full_sync())
    await plane.full_fetched.wait()  # the full set still says "running"
    await plane.put(assignment("doomed", "deleted", generation=2))
    await until(lambda: "doomed" not in plane.rows, "the delete to be reported")
    plane.hold_full.set()
    await resync
    await asyncio.sleep(0.1)
    assert state(runtime, "doomed") is None
    assert "doomed" not in agent.desired


async def test_resync_removes_a_container_nobody_wants(
    agent: Agent, plane: FakeControlPlane, runtime: FakeRuntime
) -> None:
    await plane.put(assignment("unwanted"))
    await until(lambda: state(runtime, "unwanted") == "running", "unwanted to run")
    plane.forget("unwanted")  # its row went while the agent missed the news
    await agent.full_sync()
    await until(lambda: state(runtime, "unwanted") is None, "the orphan to be removed")


async def test_exit_right_after_start_is_reported_not_the_start(
    agent: Agent, plane: FakeControlPlane
) -> None:
    await plane.put(assignment("brief", command=["sh", "-c", "exit 3"]))
    await until(reported(plane, "brief", "Stopped"), "the exit to be reported")
    last = plane.last("brief")
    assert last is not None
    assert last.exit_code == 3


async def test_engine_event_after_the_report_is_reported_too(
    agent: Agent, plane: FakeControlPlane, runtime: FakeRuntime
) -> None:
    await plane.put(assignment("steady"))
    await until(reported(plane, "steady", "Running"), "steady to run")
    found = runtime.find_container("steady")
    assert found is not None
    runtime.kill(found.id, "SIGKILL")  # behind the agent's back: only the event tells it
    await until(reported(plane, "steady", "Stopped"), "the kill to be reported")


async def test_returning_agent_removes_what_was_deleted_and_reports_the_rest(
    plane: FakeControlPlane, runtime: FakeRuntime
) -> None:
    first = make_agent(plane, runtime)
    task = asyncio.create_task(first.run())
    for uuid in ("kept", "deleted", "halted"):
        await plane.put(assignment(uuid))
    for uuid in ("kept", "deleted", "halted"):
        await until(reported(plane, uuid, "Running"), f"{uuid} to run")
    task.cancel()  # the agent is gone; meanwhile one container is deleted, one stops
    await asyncio.gather(task, return_exceptions=True)
    await plane.put(assignment("deleted", "deleted", generation=2))
    halted = runtime.find_container("halted")
    assert halted is not None
    runtime.stop(halted.id, 0)
    plane.reports.clear()
    second = make_agent(plane, runtime)
    task = asyncio.create_task(second.run())
    try:
        await until(lambda: "deleted" not in plane.rows, "the delete to finish")
        await until(reported(plane, "halted", "Stopped"), "the stop to be reported")
        await until(reported(plane, "kept", "Running"), "kept to be reported running")
        assert state(runtime, "deleted") is None
        assert state(runtime, "kept") == "running"
        assert state(runtime, "halted") == "exited"
        assert [c.uuid for c in runtime.list_containers(HOST)].count("kept") == 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_host_removed_before_its_first_sync_stops_as_removed(
    plane: FakeControlPlane, runtime: FakeRuntime
) -> None:
    # Removed between its registration and its first full sync (an operator quick on the
    # delete, or a slow start): the agent must stop as a removed host, whose process exits
    # non-zero with how to rejoin, not with the client's refusal leaking out as a crash.
    plane.gone = True
    with pytest.raises(HostRemoved):
        await asyncio.wait_for(make_agent(plane, runtime).run(), 5)
