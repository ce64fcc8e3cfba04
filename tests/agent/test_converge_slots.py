"""Worker slots bound the engine's work, not the wait for the control plane's answer."""

from __future__ import annotations

import asyncio

from dockyard.runtime.fake import FakeRuntime
from dockyard.schemas.agent import ContainerReport, SandboxReport
from tests.agent.fakeplane import IMAGE, FakeControlPlane, assignment
from tests.agent.units import units, until


class SlowPlane(FakeControlPlane):
    """A control plane that takes reports only once `answer` is set (a busy API)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = asyncio.Event()

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None:
        await self.answer.wait()
        await super().report(reports, sandboxes)


async def test_containers_past_the_workers_are_made_while_reports_wait() -> None:
    plane = SlowPlane()
    unit = units(FakeRuntime("h", images=[IMAGE]), plane)  # 2 workers
    names = ["first", "second", "third", "fourth"]
    for name in names:
        unit.want(assignment(name))
        unit.converger.kick(name)
    made = lambda: all(unit.runtime.find_container(n) is not None for n in names)  # noqa: E731
    await until(made, "all four made while the first two reports wait")
    plane.answer.set()
    await until(lambda: not unit.converger.busy, "all reported")
    assert {r.uuid for r in plane.reports if r.status == "Running"} == set(names)
    unit.background.cancel_all()
