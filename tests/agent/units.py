"""The agent's units wired by hand against the fake runtime and the in-memory control plane."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from dockyard.agent.converge import Converger
from dockyard.agent.observed import EngineView
from dockyard.agent.reports import Reporter
from dockyard.agent.sandboxes import SandboxKeeper
from dockyard.agent.steps import EngineSteps
from dockyard.agent.tasks import Background
from dockyard.runtime.fake import FakeRuntime
from dockyard.schemas.agent import Assignment, SandboxAssignment
from tests.agent.fakeplane import HOST, FakeControlPlane


@dataclass
class Units:
    runtime: FakeRuntime
    plane: FakeControlPlane
    background: Background
    view: EngineView
    converger: Converger
    desired: dict[str, Assignment] = field(default_factory=dict)
    sandboxes: dict[str, SandboxAssignment] = field(default_factory=dict)

    def want(self, assignment: Assignment) -> None:
        self.desired[assignment.uuid] = assignment


def units(runtime: FakeRuntime, plane: FakeControlPlane) -> Units:
    """A converger with its steps, view, reporter and (pool-less) sandbox keeper."""
    background = Background()
    view = EngineView(runtime)
    reporter = Reporter(plane, attempts=1)
    sandboxes = SandboxKeeper(runtime, 0, background.spawn)
    sandboxes.host = HOST
    steps = EngineSteps(runtime, view, sandboxes, reporter, lambda: HOST)
    desired: dict[str, Assignment] = {}
    wanted_sandboxes: dict[str, SandboxAssignment] = {}
    converger = Converger(
        desired, wanted_sandboxes, view, steps, reporter, background.spawn, workers=2
    )
    return Units(runtime, plane, background, view, converger, desired, wanted_sandboxes)


async def until(predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110 - any predicate over state: no event to wait on
            await asyncio.sleep(0.01)

    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")
