"""The agent's warm pool: refills wait for a quiet moment, so they never slow a create."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from dockyard.agent.sandboxes import QUIET_LONGEST, SandboxKeeper
from tests.runtime.conftest import bed, docker_runtime  # noqa: F401  (fixtures)
from tests.support.runtime_bed import Bed


class Spawner:
    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.create_task(coroutine))


async def _until(check: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_refill_waits_while_containers_are_converging(bed: Bed) -> None:  # noqa: F811
    converging = True
    spawn = Spawner()
    keeper = SandboxKeeper(bed.runtime, 1, spawn, busy=lambda: converging)
    keeper.host = bed.host
    await asyncio.to_thread(bed.runtime.ensure_pause_image)
    keeper.refill()
    await asyncio.sleep(QUIET_LONGEST / 4)
    assert await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host) == []
    converging = False
    await _until(lambda: len(keeper.free) == 1)
    listed = await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host)
    assert [(s.pooled, s.state) for s in listed] == [(True, "running")]
    await asyncio.gather(*spawn.tasks)


async def test_refill_is_not_starved_by_a_steady_stream_of_work(bed: Bed) -> None:  # noqa: F811
    spawn = Spawner()
    keeper = SandboxKeeper(bed.runtime, 1, spawn, busy=lambda: True)
    keeper.host = bed.host
    await asyncio.to_thread(bed.runtime.ensure_pause_image)
    keeper.refill()
    await _until(lambda: len(keeper.free) == 1, timeout=QUIET_LONGEST + 30)
    await asyncio.gather(*spawn.tasks)
