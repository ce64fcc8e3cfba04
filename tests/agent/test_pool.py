"""The adaptive warm pool on both runtimes: it grows under a burst, shrinks when idle, never
past its ceiling, and its free sandboxes carry no tenant data."""

from __future__ import annotations

import asyncio
import uuid as uuids

from dockyard.agent.pooldemand import HOLD, SHRINK_EVERY, PoolDemand
from dockyard.agent.sandboxes import SandboxKeeper
from dockyard.schemas.agent import SandboxRef
from tests.agent.test_pooldemand import Clock
from tests.agent.test_sandboxes import Spawner, _until
from tests.runtime.conftest import bed, docker_runtime  # noqa: F401  (fixtures)
from tests.support.runtime_bed import Bed


async def _keeper(
    bed: Bed,  # noqa: F811
    floor: int,
    ceiling: int,
) -> tuple[SandboxKeeper, Clock, Spawner]:
    clock, spawn = Clock(), Spawner()
    demand = PoolDemand(floor, ceiling, clock)
    keeper = SandboxKeeper(bed.runtime, floor, spawn, demand=demand)
    await keeper.prepare(bed.host)
    return keeper, clock, spawn


def _pooled(bed: Bed) -> list[str]:  # noqa: F811
    return [s.id for s in bed.runtime.list_sandboxes(bed.host) if s.pooled]


async def test_pool_grows_under_a_burst_up_to_its_ceiling_and_shrinks_when_idle(
    bed: Bed,  # noqa: F811
) -> None:
    keeper, clock, spawn = await _keeper(bed, floor=1, ceiling=3)
    keeper.refill()
    await _until(lambda: len(keeper.free) == 1)
    refs = [SandboxRef(uuid=str(uuids.uuid4())) for _ in range(5)]
    made = await asyncio.gather(*(keeper.ensure(ref, "tenant") for ref in refs))
    assert [s.uuid for s in made] == [r.uuid for r in refs]
    assert keeper.target == 3  # a burst of 5, capped
    await _until(lambda: len(keeper.free) == 3 and not keeper._refilling)
    assert len(await asyncio.to_thread(_pooled, bed)) == 3  # never more in the engine
    clock.now += HOLD + 10 * SHRINK_EVERY  # idle long enough to fall back to the floor
    keeper.refill()
    await _until(lambda: len(keeper.free) == 1 and not keeper._refilling)
    assert len(await asyncio.to_thread(_pooled, bed)) == 1
    await asyncio.gather(*spawn.tasks)


async def test_free_pool_sandboxes_carry_no_tenant_data(bed: Bed) -> None:  # noqa: F811
    keeper, _, spawn = await _keeper(bed, floor=2, ceiling=4)
    keeper.refill()
    await _until(lambda: len(keeper.free) == 2)
    ref = SandboxRef(uuid=str(uuids.uuid4()))
    claimed = await keeper.ensure(ref, "tenant-project")
    await _until(lambda: len(keeper.free) == 2 and not keeper._refilling)
    listed = await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host)
    free = [s for s in listed if s.pooled]
    assert len(free) == 2
    assert all(s.uuid is None for s in free)
    assert claimed.id not in {s.id for s in free}
    for sandbox in free:
        full = await asyncio.to_thread(bed.runtime.inspect_sandbox, sandbox.id)
        assert full.uuid is None
        assert ref.uuid not in (full.hostname or "")
    found = await asyncio.to_thread(bed.runtime.find_sandbox, ref.uuid)
    assert found is not None
    assert found.id == claimed.id
    assert not found.pooled
    await asyncio.gather(*spawn.tasks)


async def test_on_tenant_networks_the_pool_has_no_engine_network(bed: Bed) -> None:  # noqa: F811
    keeper, _, spawn = await _keeper(bed, floor=1, ceiling=2)
    keeper.refill()
    await _until(lambda: len(keeper.free) == 1 and not keeper._refilling)
    networked = keeper.free[0].id
    keeper.use_engine_network(False)  # the host now carries tenant networks
    await _until(lambda: len(keeper.free) == 1 and not keeper._refilling)
    listed = await asyncio.to_thread(bed.runtime.list_sandboxes, bed.host)
    assert networked not in {s.id for s in listed}  # replaced, not handed out
    assert keeper.free[0].ip_addresses == []
    # A tenant on networks gets the pooled one; one asking for the engine's network does not.
    pooled = keeper.free[0].id
    on_nets = await keeper.ensure(SandboxRef(uuid=str(uuids.uuid4())), "t", engine_network=False)
    assert on_nets.id == pooled
    legacy = await keeper.ensure(SandboxRef(uuid=str(uuids.uuid4())), "t", engine_network=True)
    assert legacy.ip_addresses
    await _until(lambda: not keeper._refilling)
    await asyncio.gather(*spawn.tasks)
