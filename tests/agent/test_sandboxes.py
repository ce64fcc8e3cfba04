"""The agent's warm pool: refills wait for a quiet moment, so they never slow a create."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any

from dockyard.agent.sandboxes import (
    QUIET_LONGEST,
    QUIET_SHORTEST,
    REFILL_AT_ONCE,
    SandboxKeeper,
)
from dockyard.runtime.specs import SandboxSpec
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


async def _keeper(
    on: Bed, size: int, busy: Any, runtime: Any = None
) -> tuple[Spawner, SandboxKeeper]:
    """A keeper of `size` pool sandboxes on the bed's host (its pause image ready)."""
    spawn = Spawner()
    keeper = SandboxKeeper(runtime or on.runtime, size, spawn, busy=busy)
    keeper.host = on.host
    await asyncio.to_thread(on.runtime.ensure_pause_image)
    return spawn, keeper


async def test_refill_waits_while_containers_are_converging(bed: Bed) -> None:  # noqa: F811
    converging = True
    spawn, keeper = await _keeper(bed, 1, lambda: converging)
    keeper.refill()
    await asyncio.sleep(QUIET_SHORTEST / 2)
    assert await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host) == []
    converging = False
    await _until(lambda: len(keeper.free) == 1)
    listed = await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host)
    assert [(s.pooled, s.state) for s in listed] == [(True, "running")]
    await asyncio.gather(*spawn.tasks)


async def test_refill_is_not_starved_by_a_steady_stream_of_work(bed: Bed) -> None:  # noqa: F811
    spawn, keeper = await _keeper(bed, 1, lambda: True)
    keeper.refill()
    # Work that asks for no sandbox (deletes, stops) holds a refill off for QUIET_SHORTEST.
    await _until(lambda: len(keeper.free) == 1, timeout=QUIET_LONGEST / 2)
    await asyncio.gather(*spawn.tasks)


class CountingRuntime:
    """The bed's runtime, counting the sandbox creates under way at once (each is held a
    moment, so that creates issued together overlap on any runtime)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.now = 0
        self.most = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runtime, name)

    def create_sandbox(self, spec: Any) -> str:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.2)
            return str(self.runtime.create_sandbox(spec))
        finally:
            with self._lock:
                self.now -= 1


async def test_quiet_refill_makes_sandboxes_side_by_side(bed: Bed) -> None:  # noqa: F811
    counting = CountingRuntime(bed.runtime)
    spawn, keeper = await _keeper(bed, 4, lambda: False, runtime=counting)
    keeper.refill()
    await _until(lambda: len(keeper.free) == 4 and not keeper._refilling)
    assert counting.most == REFILL_AT_ONCE
    listed = await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host)
    assert sorted(s.id for s in listed) == sorted(s.id for s in keeper.free)
    await asyncio.gather(*spawn.tasks)


class GatedRuntime(CountingRuntime):
    """The bed's runtime whose sandbox creates wait for `gate` before they begin."""

    def __init__(self, runtime: Any) -> None:
        super().__init__(runtime)
        self.gate = threading.Event()

    def create_sandbox(self, spec: Any) -> str:
        assert self.gate.wait(30)
        return super().create_sandbox(spec)


async def test_a_refill_that_a_sync_overtook_does_not_overfill_the_pool(bed: Bed) -> None:  # noqa: F811
    gated = GatedRuntime(bed.runtime)
    converging = False
    spawn, keeper = await _keeper(bed, 2, lambda: converging, runtime=gated)
    keeper.refill()  # makes two at once; their creates wait at the gate
    await asyncio.sleep(0.2)
    converging = True  # from now on a trim of the pool would wait for a quiet moment
    # Meanwhile a sync (a restart's, the periodic one) finds two free ones already there.
    for _ in range(2):
        spec = SandboxSpec(uuid=None, host=bed.host, pool=True)
        await asyncio.to_thread(bed.runtime.create_sandbox, spec)
    await keeper.sync({}, set())
    assert len(keeper.free) == 2
    gated.gate.set()
    released = asyncio.get_running_loop().time()
    await _until(lambda: not keeper._refilling, timeout=QUIET_LONGEST * 2)
    assert asyncio.get_running_loop().time() - released < QUIET_LONGEST / 2  # no trim waited
    listed = await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host)
    assert len([s for s in listed if s.pooled]) == len(keeper.free) == 2
    await asyncio.gather(*spawn.tasks)


async def test_refill_waits_longer_while_sandboxes_are_asked_for(bed: Bed) -> None:  # noqa: F811
    spawn, keeper = await _keeper(bed, 1, lambda: True)
    loop = asyncio.get_running_loop()
    keeper._asked_at = loop.time()  # a burst's creates ask for sandboxes
    keeper.refill()
    until = loop.time() + QUIET_SHORTEST * 2
    while loop.time() < until:
        keeper._asked_at = loop.time()
        await asyncio.sleep(0.2)
    assert await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host) == []
    await _until(lambda: len(keeper.free) == 1, timeout=QUIET_LONGEST + 30)  # asks stopped
    await asyncio.gather(*spawn.tasks)
