"""Convergence of one container, without the watch or the event pump, on the fake runtime."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from dockyard import errors
from dockyard.agent.netplane.keeper import NetworkKeeper
from dockyard.agent.sandboxes import SandboxKeeper
from dockyard.runtime.base import EngineContainer
from dockyard.runtime.fake import FakeRuntime
from dockyard.schemas.agent import ContainerReport, SandboxAssignment, SandboxRef, SandboxReport
from dockyard.schemas.netplane import HostNetworks, NetworkSpec, PortBinding
from tests.agent.fakeplane import HOST, IMAGE, FakeControlPlane, assignment
from tests.agent.test_netplane_keeper import Recorder
from tests.agent.units import Units, units, until

NET = NetworkSpec(uuid="a", project_id="p", vni=701, cidr="10.70.1.0/24", gateway="10.70.1.1")


@pytest.fixture
def unit() -> Units:
    return units(FakeRuntime("h", images=[IMAGE]), FakeControlPlane())


async def test_new_assignment_is_created_started_and_reported_with_its_engine_id(
    unit: Units,
) -> None:
    unit.want(assignment("fresh"))
    await unit.converger.converge("fresh")
    found = unit.runtime.find_container("fresh")
    assert found is not None
    assert found.state == "running"
    last = unit.plane.last("fresh")
    assert last is not None
    assert (last.status, last.container_id) == ("Running", found.id)
    assert unit.desired["fresh"].container_id == found.id  # a later vanishing is a removal


async def test_acknowledged_container_stopped_by_hand_is_reported_not_restarted(
    unit: Units,
) -> None:
    unit.want(assignment("steady"))
    await unit.converger.converge("steady")
    # Started on its own network: its address was read back within the same round.
    assert not unit.view.is_stale("steady")
    told = len(unit.plane.reports)
    found = unit.runtime.find_container("steady")
    assert found is not None
    unit.runtime.stop(found.id, 0)
    await unit.converger.converge("steady")  # not stale, nothing pending: nothing to do
    assert len(unit.plane.reports) == told
    unit.view.mark_stale("steady")  # as the event pump does on "die"
    await unit.converger.converge("steady")
    last = unit.plane.last("steady")
    assert last is not None
    assert last.status == "Stopped"
    assert unit.runtime.find_container("steady").state == "exited"  # type: ignore[union-attr]


async def test_delete_removes_reports_gone_and_forgets(unit: Units) -> None:
    unit.want(assignment("doomed"))
    await unit.converger.converge("doomed")
    unit.want(assignment("doomed", "deleted", generation=2))
    await unit.converger.converge("doomed")
    assert unit.runtime.find_container("doomed") is None
    last = unit.plane.last("doomed")
    assert last is not None
    assert last.gone
    assert "doomed" not in unit.desired
    assert unit.view.get("doomed") is None


class HeldPlane(FakeControlPlane):
    """Reports wait for `release`, so a test can act while a round is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.reporting, self.release = asyncio.Event(), asyncio.Event()

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None:
        self.reporting.set()
        await self.release.wait()
        await super().report(reports, sandboxes)


async def test_a_kick_during_a_round_makes_one_more_round() -> None:
    plane = HeldPlane()
    unit = units(FakeRuntime("h", images=[IMAGE]), plane)
    unit.want(assignment("busy"))
    unit.converger.kick("busy")
    await plane.reporting.wait()  # the first round has started it and is reporting
    unit.want(assignment("busy", "stopped", generation=2))
    unit.converger.kick("busy")  # arrives while the first round runs
    assert len(unit.background) == 1  # no second task for the same container
    plane.release.set()
    await until(lambda: not unit.converger.busy, "the rounds to end")
    last = plane.last("busy")
    assert last is not None
    assert (last.generation, last.status) == (2, "Stopped")


async def test_init_container_gates_the_start_of_its_capsule_siblings(unit: Units) -> None:
    init = assignment("init", container_type="init", capsule_uuid="cap",
                      command=["sh", "-c", "exit 0"])  # fmt: skip
    app = assignment("app", capsule_uuid="cap")
    unit.want(init)
    unit.want(app)
    await unit.converger.converge("app")
    first = unit.plane.last("app")
    assert first is not None
    assert first.in_progress  # created, its start waits for the init container
    assert unit.runtime.find_container("app").state == "created"  # type: ignore[union-attr]
    unit.converger.kick("init")
    await until(
        lambda: (r := unit.plane.last("app")) is not None and r.status == "Running",
        "the app to start once init has exited",
    )


class SandboxMindingPlane(FakeControlPlane):
    """Keeps the sandbox reports too."""

    def __init__(self) -> None:
        super().__init__()
        self.sandbox_reports: list[SandboxReport] = []

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None:
        self.sandbox_reports.extend(sandboxes or [])
        await super().report(reports, sandboxes)


async def test_sandbox_is_reported_with_each_create_that_joins_it_and_not_after() -> None:
    plane = SandboxMindingPlane()
    unit = units(FakeRuntime("h", images=[IMAGE]), plane)
    unit.sandboxes["sb"] = SandboxAssignment(
        uuid="sb", project_id="p", generation=1, desired_state="running"
    )
    for name in ("first", "second"):
        unit.want(assignment(name, sandbox=SandboxRef(uuid="sb")))
        await unit.converger.converge(name)
    made = unit.runtime.find_sandbox("sb")
    assert made is not None
    assert [(r.uuid, r.container_id) for r in plane.sandbox_reports] == [("sb", made.id)] * 2
    unit.view.mark_stale("first")
    await unit.converger.converge("first")  # no create: nothing new about the sandbox
    assert len(plane.sandbox_reports) == 2
    first, second = unit.runtime.find_container("first"), unit.runtime.find_container("second")
    assert first is not None
    assert second is not None
    assert first.sandbox_id == second.sandbox_id == made.id  # both joined the one sandbox
    shown = plane.last("second")
    assert shown is not None
    assert shown.hostname == made.hostname  # a joined container shows its sandbox's network


class _StartRefused(FakeRuntime):
    """An engine that creates but refuses every start (as docker does for a bad mount)."""

    def start(self, engine_id: str) -> None:
        raise errors.RuntimeFailure(reason="OCI runtime create failed: no such mount source")


async def test_standalone_create_whose_start_is_refused_stays_created_with_the_reason() -> None:
    plane = FakeControlPlane()
    unit = units(_StartRefused("h", images=[IMAGE]), plane)
    unit.want(assignment("refused"))
    await unit.converger.converge("refused")
    found = unit.runtime.find_container("refused")
    assert found is not None
    assert found.state == "created"  # made once, not started, not made twice
    assert len(unit.runtime.list_containers(HOST)) == 1
    last = plane.last("refused")
    assert last is not None
    assert last.status == "Created"
    assert "no such mount source" in (last.status_reason or "")


async def test_standalone_create_of_an_absent_image_pulls_it_then_runs() -> None:
    plane = FakeControlPlane()
    unit = units(FakeRuntime("h"), plane)  # the image is not on the host yet
    unit.want(assignment("pulled"))
    await unit.converger.converge("pulled")
    assert unit.runtime.has_image(IMAGE)
    found = unit.runtime.find_container("pulled")
    assert found is not None
    assert found.state == "running"
    last = plane.last("pulled")
    assert last is not None
    assert last.status == "Running"


class _Recording(FakeRuntime):
    """Records the order of claims (renames) and starts; can refuse the first claims."""

    def __init__(self, *args: Any, refuse_claims: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[str] = []
        self.refuse_claims = refuse_claims

    def claim_pooled(self, engine_id: str, uuid: str) -> None:
        time.sleep(0.02)  # a rename is an engine call: let the create's thread get ahead
        if self.refuse_claims > 0:
            self.refuse_claims -= 1
            raise errors.RuntimeConflict(reason=f"{engine_id} is not a free pool sandbox")
        super().claim_pooled(engine_id, uuid)
        self.calls.append(f"claim {uuid}")

    def start(self, engine_id: str) -> None:
        super().start(engine_id)
        self.calls.append(f"start {engine_id}")


async def _pooled_unit(runtime: _Recording) -> Units:
    unit = units(runtime, FakeControlPlane())
    keeper = SandboxKeeper(runtime, 1, unit.background.spawn)
    await keeper.prepare(HOST)
    unit.converger.steps.sandboxes = keeper
    keeper.refill()
    await until(lambda: len(keeper.free) == 1 and not keeper._refilling, "a warm sandbox")
    unit.sandboxes["sb"] = SandboxAssignment(
        uuid="sb", project_id="p", generation=1, desired_state="running"
    )
    unit.want(assignment("joined", sandbox=SandboxRef(uuid="sb")))
    return unit


async def test_a_container_in_a_pool_sandbox_starts_only_after_the_sandbox_is_claimed() -> None:
    runtime = _Recording("h", images=[IMAGE])
    unit = await _pooled_unit(runtime)
    await unit.converger.converge("joined")
    found = runtime.find_container("joined")
    assert found is not None
    assert found.state == "running"
    assert runtime.calls.index("claim sb") < runtime.calls.index(f"start {found.id}")
    sandbox = runtime.find_sandbox("sb")
    assert sandbox is not None
    assert found.sandbox_id == sandbox.id  # joined the pool sandbox, now the tenant's


async def test_a_refused_claim_never_starts_the_container_in_the_pool_sandbox() -> None:
    runtime = _Recording("h", images=[IMAGE], refuse_claims=1)
    unit = await _pooled_unit(runtime)
    pooled = [s.id for s in runtime.list_sandboxes(HOST) if s.pooled]
    await unit.converger.converge("joined")
    found = runtime.find_container("joined")
    assert found is not None
    assert found.state == "running"
    assert found.sandbox_id not in pooled  # remade in another sandbox
    started = [c for c in runtime.calls if c.startswith("start")]
    assert started == [f"start {found.id}"]  # only the remade one was ever started


class _Counted(FakeRuntime):
    """Counts the engine calls that read a container back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[str] = []

    def inspect(self, engine_id: str) -> EngineContainer:
        self.reads.append("inspect")
        return super().inspect(engine_id)

    def netns_pid(self, engine_id: str) -> int | None:
        self.reads.append("netns_pid")
        return super().netns_pid(engine_id)


class _Plugs(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.pids: list[int] = []

    def connect(self, pid: int, ports: list[PortBinding]) -> None:
        super().connect(pid, ports)
        self.pids.append(pid)


async def test_standalone_create_reads_its_container_back_once_for_the_report_and_plug() -> None:
    """Between the start and the report, one inspect (in the start's own engine job) gives
    the address and the pid the plug uses: no second read-back, no inspect of the plug's."""
    runtime, backend = _Counted("h", images=[IMAGE]), _Plugs()
    unit = units(runtime, FakeControlPlane())
    net_keeper = NetworkKeeper(backend, runtime)
    unit.converger.steps.network = net_keeper
    net_keeper.want(HostNetworks(revision=1, networks=[NET]))
    try:
        port = PortBinding(
            port_id="p1", network_id=NET.uuid, ip="10.70.1.5", prefixlen=24,
            mac="02:00:00:70:01:05", gateway="10.70.1.1",
        )  # fmt: skip
        unit.want(assignment("plugged", ports=[port]))
        await unit.converger.converge("plugged")
        assert runtime.reads == ["inspect"]
        assert backend.pids == [runtime.netns_pid(unit.desired["plugged"].container_id or "")]
        last = unit.plane.last("plugged")
        assert last is not None
        assert last.status == "Running"
        assert last.hostname  # read back with the start
    finally:
        net_keeper.close()
