"""The watch, the engine event pump and the engine view, each on its own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

from dockyard.agent.events import EventPump
from dockyard.agent.observed import EngineView
from dockyard.agent.reconcile import Step, run_spec
from dockyard.agent.reports import Reporter
from dockyard.agent.watch import Watch
from dockyard.client.agent import HostGone
from dockyard.runtime.base import EngineContainer, EngineEvent
from dockyard.runtime.fake import FakeRuntime
from dockyard.schemas.agent import (
    AssignmentBatch,
    ContainerReport,
    SandboxAssignment,
    SandboxReport,
)
from tests.agent.fakeplane import HOST, IMAGE, FakeControlPlane, assignment
from tests.agent.units import units, until


def make_watch(plane: FakeControlPlane, seen: list[str]) -> Watch:
    async def recover() -> None:
        raise AssertionError("no identity trouble in these tests")

    def ignore(sandbox: SandboxAssignment) -> None:
        return None

    return Watch(plane, 0.2, seen.append, ignore, recover)


async def test_watch_delivers_each_change_once_and_follows_the_revision() -> None:
    plane, seen = FakeControlPlane(), list[str]()
    watch = make_watch(plane, seen)
    task = asyncio.create_task(watch.run())
    try:
        await plane.put(assignment("a"))
        await until(lambda: seen == ["a"], "a to be delivered")
        await plane.put(assignment("b"))
        await until(lambda: seen == ["a", "b"], "only b to be delivered next")
        assert watch.revision == plane.revision
        assert set(watch.containers) == {"a", "b"}
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_full_batch_does_not_override_what_the_watch_delivered_during_its_fetch() -> None:
    watch = make_watch(FakeControlPlane(), [])
    kept = watch.containers  # the converger holds this very dict
    watch.take(AssignmentBatch(revision=1, full=False, containers=[assignment("old")]))
    with watch.recording() as taken:
        watch.take(
            AssignmentBatch(revision=3, full=False, containers=[assignment("new", generation=2)])
        )
    stale_full = [assignment("new", generation=1), assignment("other")]
    watch.adopt(AssignmentBatch(revision=2, full=True, containers=stale_full), taken)
    assert watch.containers is kept
    assert set(kept) == {"new", "other"}  # "old" is no longer wanted
    assert kept["new"].generation == 2


class SubscribedRuntime(FakeRuntime):
    """Says when the event pump has subscribed (the fake subscribes as events() returns)."""

    def __init__(self) -> None:
        super().__init__("h", images=[IMAGE])
        self.subscribed = threading.Event()

    def events(self, host: str, stop: threading.Event) -> Iterator[EngineEvent]:
        stream = super().events(host, stop)
        self.subscribed.set()
        return stream


async def test_event_pump_marks_what_changed_behind_the_agents_back() -> None:
    runtime = SubscribedRuntime()
    view = EngineView(runtime)
    news: list[str] = []
    pump = EventPump(runtime, view, news.append)
    engine_id = runtime.create(run_spec(assignment("x"), HOST))
    runtime.start(engine_id)
    found = runtime.find_container("x")
    assert found is not None
    view.put(found)  # the agent knows it running: its own start is no news
    task = asyncio.create_task(pump.run(HOST))
    try:
        assert await asyncio.to_thread(runtime.subscribed.wait, 10)
        runtime.start(engine_id)  # already running: no event, nothing new
        runtime.kill(engine_id, "SIGKILL")
        await until(lambda: news == ["x"], "the kill to be news")
        assert view.is_stale("x")
    finally:
        pump.stop()
        await asyncio.wait_for(task, 5)


def test_engine_view_re_reads_only_what_the_listing_says_moved() -> None:
    view = EngineView(FakeRuntime("h"))
    running = EngineContainer(id="1", uuid="a", state="running")
    view.merge_listing({"a": running}, first=True)
    assert view.take_stale("a")
    view.merge_listing({"a": running}, first=False)
    assert not view.is_stale("a")
    view.merge_listing({"a": EngineContainer(id="1", uuid="a", state="exited")}, first=False)
    assert view.take_stale("a")
    view.merge_listing({}, first=False)
    assert view.is_stale("a")  # gone, or made after the listing: inspect to know


def test_engine_view_records_a_steps_effect_without_asking_the_engine() -> None:
    view = EngineView(FakeRuntime("h"))
    desired = assignment("a")
    created = EngineContainer(id="1", uuid="a", state="created")
    view.note(desired, Step.START, created)
    assert view.get("a").state == "running"  # type: ignore[union-attr]
    assert view.is_stale("a")  # its own network: its address is read back
    assert view.resources_stale(desired)  # never applied by this process, not acknowledged
    view.note(desired, Step.UPDATE_RESOURCES, created)
    assert not view.resources_stale(desired)
    view.note(desired, Step.REMOVE, created)
    assert view.get("a") is None


class FlakySink:
    """Refuses the first `failures` reports with `error`, then takes them."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error = failures, error
        self.calls = 0
        self.taken: list[ContainerReport] = []

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.taken.extend(reports)


REPORT = ContainerReport(uuid="r", generation=1, status="Running")


async def test_reporter_retries_a_control_plane_that_is_restarting() -> None:
    sink = FlakySink(2, ConnectionError("restarting"))
    assert await Reporter(sink, attempts=3, backoff=0.01).send([REPORT])
    assert (sink.calls, sink.taken) == (3, [REPORT])


async def test_reporter_gives_up_and_leaves_it_to_the_resync() -> None:
    sink = FlakySink(5, ConnectionError("down"))
    assert not await Reporter(sink, attempts=3, backoff=0.01).send([REPORT])
    assert sink.calls == 3


async def test_reporter_does_not_retry_a_refused_identity() -> None:
    sink = FlakySink(1, HostGone("removed"))
    assert not await Reporter(sink, attempts=3, backoff=0.01).send([REPORT])
    assert sink.calls == 1  # the watch sorts the identity out; a full sync resends


class SlowAnswerRuntime(SubscribedRuntime):
    """An engine whose events reach the agent before its answer to the start does."""

    def start(self, engine_id: str) -> None:
        super().start(engine_id)
        time.sleep(0.2)


async def test_engine_events_echoing_the_agents_own_create_cost_no_second_round() -> None:
    runtime = SlowAnswerRuntime()
    unit = units(runtime, FakeControlPlane())
    pump = EventPump(runtime, unit.view, unit.converger.kick)
    rounds: list[str] = []
    one_round = unit.converger.converge

    async def counted(uuid: str) -> None:
        rounds.append(uuid)
        await one_round(uuid)

    unit.converger.converge = counted  # type: ignore[method-assign]
    task = asyncio.create_task(pump.run(HOST))
    try:
        assert await asyncio.to_thread(runtime.subscribed.wait, 10)
        unit.want(assignment("x"))
        unit.converger.kick("x")
        await until(lambda: not unit.converger.busy and unit.plane.reports, "the create")
        await asyncio.sleep(0.3)  # the engine's create and start events have come by now
        await until(lambda: not unit.converger.busy, "any further round")
        assert [r.status for r in unit.plane.reports] == ["Running"]
        assert rounds == ["x"]  # the events were the echo of its own steps
        assert not unit.view.is_stale("x")
    finally:
        pump.stop()
        await asyncio.wait_for(task, 5)


def test_engine_events_during_the_agents_own_steps_are_judged_after_them() -> None:
    view = EngineView(FakeRuntime("h"))
    with view.steps_running("a"):
        assert view.hold("a", "create")
        assert view.hold("a", "start")
        view.put(EngineContainer(id="1", uuid="a", state="running"))
    assert not view.hold("a", "die")  # no steps running: the pump judges it now
    assert not view.is_stale("a")  # the steps explain both
    with view.steps_running("a"):
        view.hold("a", "die")  # the container died under the agent's start
    assert view.is_stale("a")
