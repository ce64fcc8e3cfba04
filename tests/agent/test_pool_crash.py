"""An agent stopped mid-claim (its container created, joined to a pool sandbox not yet
renamed) is resumed by the next agent: the claim is finished, the sandbox never handed out."""

from __future__ import annotations

import asyncio
import threading
import uuid as uuids
from typing import Any

from dockyard import errors
from dockyard.agent.loop import Agent, AgentConfig
from dockyard.schemas.agent import SandboxRef
from tests.agent.fakeplane import FakeControlPlane, assignment
from tests.agent.test_loop import reported
from tests.agent.units import until
from tests.runtime.conftest import bed, docker_runtime  # noqa: F401  (fixtures)
from tests.support.runtime_bed import Bed
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE


class StalledClaims:
    """The runtime, except that claims hang until released and then fail (a dead agent's)."""

    def __init__(self, runtime: Any) -> None:
        self._runtime = runtime
        self.reached = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    def claim_pooled(self, engine_id: str, uuid: str) -> None:
        self.reached.set()
        self.release.wait(60)
        raise errors.RuntimeFailure(reason="this agent is dead")


class Plane(FakeControlPlane):
    def __init__(self, host: str) -> None:
        super().__init__()
        self.host = host

    async def register(self, registration: Any) -> str:
        return self.host


def _agent(plane: Plane, runtime: Any) -> Agent:
    config = AgentConfig(
        hostname="h", agent_url="http://127.0.0.1:9", agent_token="t" * 32,
        heartbeat_interval=3600, resync_interval=3600, watch_timeout=0.5,
        pool_size=1, pool_max=1,
    )  # fmt: skip
    return Agent(config, runtime, plane, plane)  # type: ignore[arg-type]


async def _started(agent: Agent) -> asyncio.Task[None]:
    task = asyncio.create_task(agent.run())
    await asyncio.wait_for(agent.ready.wait(), 30)
    await until(lambda: len(agent.sandboxes.free) == 1, "a warm pool sandbox", 30)
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_claim_cut_short_by_the_agents_death_is_finished_by_the_next_agent(
    bed: Bed,  # noqa: F811
) -> None:
    runtime, plane = bed.runtime, Plane(bed.host)
    stalled = StalledClaims(runtime)
    first = _agent(plane, stalled)
    task = await _started(first)
    pooled = first.sandboxes.free[0].id
    sandbox_uuid, uuid = str(uuids.uuid4()), str(uuids.uuid4())
    desired = assignment(uuid, image=TEST_IMAGE, command=SLEEP_FOREVER,
                         sandbox=SandboxRef(uuid=sandbox_uuid))  # fmt: skip
    await plane.put(desired)
    await until(lambda: runtime.find_container(uuid) is not None, "the create", 30)
    await until(stalled.reached.is_set, "the claim under way", 30)
    await _stop(task)  # the agent dies between the create and the end of the claim
    stalled.release.set()
    made = runtime.find_container(uuid)
    assert made is not None
    assert made.state == "created"
    assert made.sandbox_id == pooled
    assert runtime.find_sandbox(sandbox_uuid) is None  # the claim was not recorded

    second = _agent(plane, runtime)
    task = asyncio.create_task(second.run())
    try:
        await until(reported(plane, uuid, "Running"), "the next agent to start it", 30)
        claimed = runtime.find_sandbox(sandbox_uuid)
        assert claimed is not None
        assert claimed.id == pooled
        assert not claimed.pooled
        assert pooled not in {s.id for s in second.sandboxes.free}
        free = [s for s in runtime.list_sandboxes(bed.host) if s.pooled]
        assert pooled not in {s.id for s in free}
        assert runtime.find_container(uuid).state == "running"  # type: ignore[union-attr]
    finally:
        await _stop(task)
