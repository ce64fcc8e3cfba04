"""A sync whose listing is slow must not remove what was handed out while it listed.

Removing a sandbox removes the containers joined to it, so a sandbox claimed (or made)
during a sync's listing, which the sync's `desired` and `in_use` predate, would take a
just-created container with it: the container was then shown Running with no engine
container behind it (seen on the multi-host bed).
"""

from __future__ import annotations

import asyncio
import threading
import uuid as uuids
from dataclasses import replace

import pytest

from dockyard.agent.sandboxes import SandboxKeeper
from dockyard.runtime.base import EngineSandbox
from dockyard.runtime.fake import FakeRuntime
from dockyard.runtime.specs import SandboxSpec
from dockyard.schemas.agent import SandboxRef
from tests.agent.test_sandboxes import Spawner, _until

HOST = "race-host"


class SlowListing(FakeRuntime):
    """A fake whose next sandbox listing is taken at once but returned only when released."""

    def __init__(self) -> None:
        super().__init__(HOST)
        self.hold = False
        self.listed = threading.Event()
        self.release = threading.Event()

    def list_sandboxes(self, host: str) -> list[EngineSandbox]:
        snapshot = super().list_sandboxes(host)
        if self.hold:
            self.hold = False
            self.listed.set()
            self.release.wait(10)
        return snapshot


async def _keeper(runtime: SlowListing, pool: int) -> tuple[SandboxKeeper, Spawner]:
    spawn = Spawner()
    keeper = SandboxKeeper(runtime, pool, spawn)
    await keeper.prepare(HOST)
    keeper.refill()
    await _until(lambda: len(keeper.free) == pool and not keeper._refilling)
    return keeper, spawn


async def _sync_while(runtime: SlowListing, keeper: SandboxKeeper, ref: SandboxRef) -> str:
    """Start a sync, hand `ref` its sandbox while the sync lists, let the sync finish."""
    runtime.hold = True
    sync = asyncio.create_task(keeper.sync({}, set()))
    await asyncio.to_thread(runtime.listed.wait, 10)
    made = await keeper.ensure(ref, "tenant")
    runtime.release.set()
    await sync
    return made.id


@pytest.mark.parametrize("pool", [1, 0], ids=["claimed-from-the-pool", "made-anew"])
async def test_a_sandbox_handed_out_during_a_sync_survives_it(pool: int) -> None:
    runtime = SlowListing()
    keeper, spawn = await _keeper(runtime, pool=pool)
    ref = SandboxRef(uuid=str(uuids.uuid4()))
    handed_out = await _sync_while(runtime, keeper, ref)
    await asyncio.gather(*spawn.tasks)
    found = runtime.find_sandbox(ref.uuid)
    assert found is not None, "the sync removed the sandbox handed out while it listed"
    assert found.id == handed_out
    assert keeper.engine[ref.uuid].id == handed_out
    assert handed_out not in {s.id for s in keeper.free}, "a handed-out sandbox is free again"


class HalfMade(FakeRuntime):
    """A fake whose pool refill pauses between the engine's create and start, as Docker's
    does for a moment: a listing taken then shows the new pool sandbox as `created`."""

    def __init__(self) -> None:
        super().__init__(HOST)
        self.hold_next = False
        self.between = threading.Event()
        self.release = threading.Event()
        self.half_made: str | None = None

    def create_sandbox(self, spec: SandboxSpec) -> str:
        engine_id = super().create_sandbox(spec)
        if self.hold_next and spec.pool:
            self.hold_next, self.half_made = False, engine_id
            self.between.set()
            self.release.wait(10)
            self.half_made = None
        return engine_id

    def list_sandboxes(self, host: str) -> list[EngineSandbox]:
        listed = super().list_sandboxes(host)
        return [replace(s, state="created") if s.id == self.half_made else s for s in listed]


async def test_a_sync_leaves_the_pool_sandbox_a_refill_is_making() -> None:
    # Seen on the multi-host bed: the sync removed the half-made sandbox as stale, the
    # refill then put it in the pool, and the next container joined a removed sandbox.
    runtime = HalfMade()
    spawn = Spawner()
    keeper = SandboxKeeper(runtime, 1, spawn)
    await keeper.prepare(HOST)
    runtime.hold_next = True
    keeper.refill()
    await asyncio.to_thread(runtime.between.wait, 10)
    await keeper.sync({}, set())
    runtime.release.set()
    await _until(lambda: not keeper._refilling)
    await asyncio.gather(*spawn.tasks)
    assert len(keeper.free) == 1, "the sync removed the sandbox the refill was making"
    assert [s.id for s in keeper.free] == [s.id for s in runtime.list_sandboxes(HOST)]
    made = await keeper.ensure(SandboxRef(uuid=str(uuids.uuid4())), "tenant")
    assert runtime.inspect_sandbox(made.id).state == "running"
