"""The scheduler loop against a real database: batches on two replicas at once (PostgreSQL:
SKIP LOCKED), limits, no-host Error with its quota released, capsules all-or-nothing,
sandboxes, and the wake-up of a single create."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dockyard.db.engine import transaction, upgrade_to_head
from dockyard.db.repositories.pending import PendingRepository
from dockyard.domain.tenancy import RequestContext
from dockyard.schemas.capsules import CapsuleSpec, MemberSpec
from dockyard.schemas.containers import ContainerCreate
from dockyard.services.batchscheduler import IDLE_LOOK
from dockyard.services.capsules import CapsuleService
from dockyard.services.policy import Policy
from dockyard.services.quotas import QuotaService
from dockyard.services.sandboxes import SandboxService
from tests.services.conftest import Stack, quiet, quiet_replicas, registration, replica
from tests.support.database import fresh_postgres

ADMIN = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"admin"}), policy=Policy())
NO_HOST = "There are not enough hosts available."


def spec(name: str, cpu: float = 0.1, **extra: object) -> ContainerCreate:
    fields: dict[str, object] = {"sandbox_mode": "standalone", **extra}
    return ContainerCreate(name=name, image="img", command=["true"], cpu=cpu, memory=16,
                           **fields)  # fmt: skip


def member(name: str, cpu: float) -> MemberSpec:
    return MemberSpec(name=name, image="img", command=["true"], environment={}, workdir=None,
                      image_pull_policy=None, cpu=cpu, memory=16, ports=[], volume_mounts=[],
                      tty=False, stdin=False)  # fmt: skip


def capsule(name: str, *cpus: float) -> CapsuleSpec:
    members = [member(f"m{i}", cpu) for i, cpu in enumerate(cpus)]
    return CapsuleSpec(name=name, labels={}, annotations={}, restart_policy=("always", 0),
                       volumes=[], init_containers=[], containers=members,
                       availability_zone=None, cpu=0.0, memory=0)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
async def pair(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Stack, Stack]]:
    """Two replicas on one database (SQLite: two engines on one file), loops stopped so
    that the tests run the batches; no quota in the way."""
    async with quiet_replicas(request.param, tmp_path) as (first, second):
        yield _small_batches(first), _small_batches(second)


def _small_batches(stack: Stack) -> Stack:
    stack.settings.scheduler.batch_size = 7  # many small batches: they interleave
    return stack


async def _quiet(stack: Stack) -> Stack:
    return _small_batches(await quiet(stack))


async def test_two_replicas_batches_fill_hosts_exactly_and_place_each_container_once(
    pair: tuple[Stack, Stack],
) -> None:
    first, second = pair
    hosts = [await first.hosts.register(registration(f"h{i}", cpus=1)) for i in range(3)]
    rows = await asyncio.gather(
        *(first.containers.create(ADMIN, spec(f"c{i}"), run=True, legacy_command=False)
          for i in range(100))
    )  # fmt: skip
    await asyncio.gather(*(s.scheduler.drain() for s in (first, second, first, second)))
    stored = [await first.containers.get(ADMIN, r.uuid) for r in rows]
    per_host = Counter(r.host_uuid for r in stored if r.host_uuid)
    assert per_host == {h.uuid: 10 for h in hosts}  # room for exactly 10 × 0.1 cpu each
    refused = [r for r in stored if r.host_uuid is None]
    assert {(r.status, r.status_reason) for r in refused} == {("Error", NO_HOST)}
    for host in hosts:
        assert (await first.hosts.get(host.uuid)).cpu_used == pytest.approx(1.0)
        assert (await first.hosts.get(host.uuid)).mem_used == 16 * 10  # each claimed once
    quota = await QuotaService(first.containers.sessions, first.settings).get(
        ADMIN, "p1", usages=True
    )
    assert quota.in_use is not None
    assert quota.in_use.containers == 30


async def test_a_capsule_is_placed_whole_or_fails_whole(pair: tuple[Stack, Stack]) -> None:
    first, second = pair
    host = await first.hosts.register(registration(cpus=1))
    capsules = CapsuleService(first.containers.sessions, first.settings, first.containers.directory)
    too_big = await capsules.create(ADMIN, capsule("big", 0.5, 0.5))  # + the sandbox's cpu
    fits = await capsules.create(ADMIN, capsule("fits", 0.3, 0.3, 0.3))
    await asyncio.gather(first.scheduler.drain(), second.scheduler.drain())
    big = await capsules.get(ADMIN, too_big.row.uuid)
    assert {(m.host_uuid, m.status, m.status_reason) for m in big.containers} == {
        (None, "Error", NO_HOST)
    }
    assert big.sandbox is not None
    assert big.sandbox.status == "Error"
    placed = await capsules.get(ADMIN, fits.row.uuid)
    assert placed.sandbox is not None
    assert placed.sandbox.host_uuid == host.uuid
    assert {m.host_uuid for m in placed.containers} == {host.uuid}
    sandbox_cpu = first.settings.containers.sandbox_cpu
    assert (await first.hosts.get(host.uuid)).cpu_used == pytest.approx(0.9 + sandbox_cpu)


async def test_a_container_joining_a_pending_sandbox_goes_with_it(
    pair: tuple[Stack, Stack],
) -> None:
    first, second = pair
    hosts = [await first.hosts.register(registration(f"h{i}", cpus=4)) for i in range(4)]
    one = await first.containers.create(ADMIN, spec("one", sandbox_mode="sandbox"), run=True,
                                        legacy_command=False)  # fmt: skip
    joiner = spec("two", sandbox=one.sandbox_uuid, sandbox_mode=None)
    two = await first.containers.create(ADMIN, joiner, run=True, legacy_command=False)
    await asyncio.gather(first.scheduler.drain(), second.scheduler.drain())
    one, two = await first.placed(ADMIN, one, two)
    assert one.host_uuid is not None
    assert two.host_uuid == one.host_uuid
    sandbox, _ = await SandboxService(first.containers.sessions).get(ADMIN, str(one.sandbox_uuid))
    assert sandbox.host_uuid == one.host_uuid
    used = sum([(await first.hosts.get(h.uuid)).cpu_used for h in hosts])
    assert used == pytest.approx(0.2 + first.settings.containers.sandbox_cpu)  # sandbox once


async def _next_containers(stack: Stack, host_uuid: str, since: int) -> list[str]:
    """The uuids of the next batch that carries containers, as the agent's watch sees them:
    a batch that only moves the host's networks (the project's default network appearing,
    a port of the previous container bound) comes first sometimes and is read past."""
    deadline = time.monotonic() + IDLE_LOOK
    while True:
        batch = await stack.hosts.assignments(host_uuid, since, deadline - time.monotonic())
        if batch.containers or time.monotonic() >= deadline:
            return [a.uuid for a in batch.containers]
        since = batch.revision


async def test_a_create_wakes_the_scheduler_at_once_on_its_replica_and_the_others(
    pair: tuple[Stack, Stack],
) -> None:
    """A create on a replica without a scheduler is placed by the other one's loop, woken
    by the change feed, long before the loop would look on its own (IDLE_LOOK)."""
    first, second = pair
    if not first.feed.notifies:  # SQLite: one process, so one replica (the feed is local)
        second = first
    first.scheduler.start()  # second has none: `dockyard api --no-scheduler`
    host = await first.hosts.register(registration(cpus=4))
    for creator in [first] if second is first else [first, second]:
        revision = (await creator.hosts.get(host.uuid)).revision
        poll = asyncio.create_task(_next_containers(second, host.uuid, revision))
        started = time.monotonic()
        row = await creator.containers.create(ADMIN, spec(f"w{id(creator)}"), run=True,
                                              legacy_command=False)  # fmt: skip
        placed = await asyncio.wait_for(poll, IDLE_LOOK)
        assert placed == [row.uuid]
        assert time.monotonic() - started < IDLE_LOOK / 2, "placed by the idle look, not woken"


async def test_batches_open_at_once_on_postgresql_take_disjoint_containers(
    tmp_path: Path,
) -> None:
    """SKIP LOCKED: a batch never waits for, nor takes, what another open batch holds."""
    with fresh_postgres() as url:
        upgrade_to_head(url)
        async with replica(url, tmp_path) as first, replica(url, tmp_path) as second:
            for stack in (first, second):
                await _quiet(stack)
            for i in range(12):
                await first.containers.create(ADMIN, spec(f"q{i}"), run=True, legacy_command=False)
            async with (
                transaction(first.containers.sessions) as one,
                transaction(second.containers.sessions) as two,
            ):
                taken_one = await PendingRepository(one).take(5)
                taken_two = await asyncio.wait_for(PendingRepository(two).take(5), 5)
                rest = await asyncio.wait_for(PendingRepository(two).take(50), 5)
            mine = {r.uuid for r in taken_one}
            assert len(mine) == 5
            assert not mine & {r.uuid for r in [*taken_two, *rest]}
            assert len({r.uuid for r in [*taken_two, *rest]}) == 7  # the rest, once each


async def test_a_replica_places_counting_what_another_replica_just_claimed(
    tmp_path: Path,
) -> None:
    """Every create wakes every replica's scheduler, so one create after another is often
    placed by the replica that did not place the one before. Its host index, however young,
    must count that claim: here the index is never old enough to refresh on its own, and the
    claim on h-a must still steer the next container to h-b. (Without it, the many-host
    bed's spread test got 3/2/1 when containers started faster than index_refresh.)"""
    with fresh_postgres() as url:
        upgrade_to_head(url)
        async with replica(url, tmp_path) as first, replica(url, tmp_path) as second:
            for stack in (first, second):
                await _quiet(stack)
                stack.settings.scheduler.index_refresh = 3600.0
            a = await first.hosts.register(registration("h-a", cpus=4))
            b = await first.hosts.register(registration("h-b", cpus=4))
            held = await first.containers.create(ADMIN, spec("held", cpu=0.5, host="h-b"),
                                                 run=True, legacy_command=False)  # fmt: skip
            (held,) = await first.placed(ADMIN, held)  # first's index is read now
            assert held.host_uuid == b.uuid
            one = await first.containers.create(ADMIN, spec("one", cpu=1.0), run=True,
                                                legacy_command=False)  # fmt: skip
            with first.signals.watching(a.uuid) as watch:  # to know first has heard of it
                seen = watch.version
                await second.scheduler.drain()  # its index is read now: h-a is the emptiest
                assert (await first.containers.get(ADMIN, one.uuid)).host_uuid == a.uuid
                assert await watch.wait(seen, 5), "the claim's change never reached first"
            two = await first.containers.create(ADMIN, spec("two", cpu=0.25), run=True,
                                                legacy_command=False)  # fmt: skip
            (two,) = await first.placed(ADMIN, two)
            assert two.host_uuid == b.uuid  # h-a holds 1.0 CPU, h-b 0.5
