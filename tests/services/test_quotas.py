"""Quotas against a real database: limits resolve like Zun's, and enforcement is atomic."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from dockyard.db.engine import transaction
from dockyard.db.tables import ContainerRow
from dockyard.domain.quotas import Usage
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import ContainerNotFound, InvalidValue, OverQuota, PolicyNotAuthorized
from dockyard.schemas.agent import ContainerReport, ReportBatch
from dockyard.schemas.containers import ContainerCreate, ContainerUpdate
from dockyard.services.policy import NoPolicyInContext, Policy, load_policy
from dockyard.services.quotas import QuotaService
from dockyard.services.quotas import reserve as reserve_quota
from tests.services.conftest import Stack, registration

POLICY = Policy()  # the defaults; the API layer gives each request the operator's
ADMIN = RequestContext(
    project_id="admin-project", user_id="root", roles=frozenset({"admin"}), policy=POLICY
)
MEMBER = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"member"}), policy=POLICY)
ZUN_DEFAULTS = {"containers": 40, "memory": 51200, "cpu": 20, "disk": 100}


@pytest.fixture
def quotas(stack: Stack) -> QuotaService:
    return QuotaService(stack.containers.sessions, stack.settings)


def spec(name: str, cpu: float = 0.1, memory: int = 64) -> ContainerCreate:
    return ContainerCreate(name=name, image="img", command=["true"], cpu=cpu, memory=memory)


async def create(stack: Stack, name: str, cpu: float = 0.1, memory: int = 64) -> ContainerRow:
    """Create, and return the row once the scheduler has placed it (or found no host)."""
    row = await stack.containers.create(
        MEMBER, spec(name, cpu, memory), run=False, legacy_command=False
    )
    (row,) = await stack.placed(MEMBER, row)
    return row


@pytest.fixture
async def room(stack: Stack) -> None:
    """Hosts with room for everything these tests create: an unplaced container holds no
    quota, so a quota test needs its containers placed. Several hosts, so that host claims
    do not serialise the creates by themselves and hide a quota race."""
    for i in range(4):
        await stack.hosts.register(registration(f"big-{i}", cpus=64, mem_total=262144))


async def in_use(quotas: QuotaService, project_id: str = "p1") -> dict[str, float]:
    quota = await quotas.get(ADMIN, project_id, usages=True)
    assert quota.in_use is not None
    return dict(quota.in_use.shown())


async def test_fifty_concurrent_creates_with_room_for_ten_accept_exactly_ten(
    stack: Stack, quotas: QuotaService, room: None
) -> None:
    await quotas.update(ADMIN, "p1", {"containers": 10})
    results = await asyncio.gather(
        *(create(stack, f"c{i}") for i in range(50)), return_exceptions=True
    )
    accepted = [r for r in results if isinstance(r, ContainerRow)]
    refused = [r for r in results if isinstance(r, OverQuota)]
    assert (len(accepted), len(refused)) == (10, 40), [
        r for r in results if not isinstance(r, ContainerRow | OverQuota)
    ]
    assert "containers" in str(refused[0])
    rows = await stack.containers.list(
        MEMBER, {}, limit=100, marker=None, sort_key="id", sort_dir="asc", all_projects=False
    )
    assert len(rows) == 10
    assert await in_use(quotas) == {"containers": 10, "memory": 640, "cpu": 1.0, "disk": 0}


async def test_reservations_racing_with_nothing_else_never_overrun(
    stack: Stack, quotas: QuotaService
) -> None:
    # Reserving first in its transaction is the hard case: no earlier write has taken
    # SQLite's write lock, and PostgreSQL has no other row lock to queue the racers on.
    await quotas.update(ADMIN, "p1", {"cpu": 2})
    one_cpu = Usage.of(containers=1, cpu=0.25, memory=1, disk=0)

    async def reserve() -> bool:
        try:
            async with transaction(stack.containers.sessions) as session:
                await reserve_quota(session, stack.settings.quota, "p1", one_cpu)
        except OverQuota:
            return False
        return True

    accepted = await asyncio.gather(*(reserve() for _ in range(40)))
    assert sum(accepted) == 8
    assert await in_use(quotas) == {"containers": 8, "memory": 8, "cpu": 2.0, "disk": 0}


async def test_cpu_usage_is_summed_exactly(stack: Stack, quotas: QuotaService, room: None) -> None:
    await quotas.update(ADMIN, "p1", {"cpu": 1})
    for name, cpu in (("c7", 0.7), ("c1", 0.1), ("c2", 0.2)):  # 0.7 + 0.1 + 0.2 > 1.0 in floats
        await create(stack, name, cpu=cpu)
    with pytest.raises(OverQuota, match="cpu"):
        await create(stack, "c3", cpu=0.1)
    assert (await in_use(quotas))["cpu"] == 1.0


async def test_memory_over_quota_names_memory(
    stack: Stack, quotas: QuotaService, room: None
) -> None:
    await quotas.update(ADMIN, "p1", {"memory": 100, "containers": 1})
    with pytest.raises(OverQuota) as refused:
        await create(stack, "big", memory=128)
    assert str(refused.value) == "Quota exceeded for resources: memory."
    await create(stack, "small", memory=64)
    with pytest.raises(OverQuota, match="containers, memory"):
        await create(stack, "another", memory=64)


async def test_resize_over_quota_is_refused_and_shrinking_always_allowed(
    stack: Stack, quotas: QuotaService
) -> None:
    host = await stack.hosts.register(registration(cpus=4, mem_total=4096))
    await quotas.update(ADMIN, "p1", {"memory": 256})
    row = await create(stack, "sized", memory=128)
    created = ContainerReport(uuid=row.uuid, generation=row.generation, status="Created")
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[created]))
    host_memory = (await stack.hosts.get(host.uuid)).mem_used
    with pytest.raises(OverQuota, match="memory"):
        await stack.containers.update(MEMBER, row.uuid, ContainerUpdate(memory="512"))
    assert (await stack.containers.get(MEMBER, row.uuid)).memory == 128
    assert (await stack.hosts.get(host.uuid)).mem_used == host_memory  # host claim undone too
    await stack.containers.update(MEMBER, row.uuid, ContainerUpdate(memory="256", cpu=0.5))
    assert await in_use(quotas) == {"containers": 1, "memory": 256, "cpu": 0.5, "disk": 0}
    await quotas.update(ADMIN, "p1", {"memory": 64})  # now over: shrinking must still work
    await stack.containers.update(MEMBER, row.uuid, ContainerUpdate(memory="128"))
    assert (await in_use(quotas))["memory"] == 128


async def test_a_container_no_host_takes_holds_no_quota_and_deletes_at_once(
    stack: Stack, quotas: QuotaService
) -> None:
    await quotas.update(ADMIN, "p1", {"containers": 1, "memory": 100})
    with pytest.raises(OverQuota):  # the quota is checked even when no host could take it
        await create(stack, "too-big", memory=128)
    row = await create(stack, "nowhere")
    assert (row.status, row.status_reason, row.host_uuid) == (
        "Error", "There are not enough hosts available.", None)  # fmt: skip
    assert await in_use(quotas) == {"containers": 0, "memory": 0, "cpu": 0.0, "disk": 0}
    await create(stack, "nowhere-either")  # room for one, and neither holds it
    await stack.containers.delete(MEMBER, row.uuid, force=False, stop=False, all_projects=False)
    with pytest.raises(ContainerNotFound):
        await stack.containers.get(MEMBER, row.uuid)
    assert await in_use(quotas) == {"containers": 0, "memory": 0, "cpu": 0.0, "disk": 0}


async def test_container_reported_gone_frees_its_room(stack: Stack, quotas: QuotaService) -> None:
    host = await stack.hosts.register(registration())
    await quotas.update(ADMIN, "p1", {"containers": 1})
    row = await create(stack, "placed")
    assert row.host_uuid == host.uuid
    created = ContainerReport(uuid=row.uuid, generation=row.generation, status="Created")
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[created]))
    await stack.containers.delete(MEMBER, row.uuid, force=False, stop=False, all_projects=False)
    with pytest.raises(OverQuota):  # still held until the agent has removed it
        await create(stack, "next")
    deleting = await stack.containers.get(MEMBER, row.uuid)
    gone = ContainerReport(uuid=row.uuid, generation=deleting.generation, gone=True)
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[gone]))
    with pytest.raises(ContainerNotFound):
        await stack.containers.get(MEMBER, row.uuid)
    assert await in_use(quotas) == {"containers": 0, "memory": 0, "cpu": 0.0, "disk": 0}
    await create(stack, "next")


async def test_minus_one_is_unlimited(stack: Stack, quotas: QuotaService, room: None) -> None:
    await quotas.update_class(ADMIN, "default", {"containers": 2})
    await quotas.update(ADMIN, "p1", {"containers": -1, "memory": -1})
    for i in range(5):
        await create(stack, f"free{i}", memory=8192)
    assert (await in_use(quotas))["containers"] == 5


async def test_class_default_overrides_defaults_and_project_overrides_class(
    stack: Stack, quotas: QuotaService, room: None
) -> None:
    assert (await quotas.get(MEMBER, "p1", usages=False)).limits == ZUN_DEFAULTS
    assert await quotas.update_class(ADMIN, "default", {"containers": 2}) == {
        **ZUN_DEFAULTS,
        "containers": 2,
    }
    assert await quotas.defaults(MEMBER, "p1") == {**ZUN_DEFAULTS, "containers": 2}
    assert await quotas.get_class(ADMIN, "gold") == ZUN_DEFAULTS  # an unset class: defaults
    await create(stack, "one")
    await create(stack, "two")
    with pytest.raises(OverQuota):
        await create(stack, "three")
    assert await quotas.update(ADMIN, "p1", {"containers": 3, "cpu": 4}) == {
        **ZUN_DEFAULTS,
        "containers": 3,
        "cpu": 4,
    }
    await create(stack, "three")
    await quotas.delete(ADMIN, "p1")
    assert (await quotas.get(MEMBER, "p1", usages=False)).limits["containers"] == 2


async def test_member_reads_its_own_quota_only_and_changes_none(quotas: QuotaService) -> None:
    assert (await quotas.get(MEMBER, "p1", usages=True)).in_use is not None
    await quotas.defaults(MEMBER, "p1")
    refused: list[Callable[[], Awaitable[object]]] = [
        lambda: quotas.get(MEMBER, "p2", usages=False),
        lambda: quotas.defaults(MEMBER, "p2"),
        lambda: quotas.update(MEMBER, "p1", {"containers": 100}),
        lambda: quotas.delete(MEMBER, "p1"),
        lambda: quotas.get_class(MEMBER, "default"),
        lambda: quotas.update_class(MEMBER, "default", {"containers": 100}),
    ]
    for call in refused:
        with pytest.raises(PolicyNotAuthorized):
            await call()


async def test_the_operators_policy_file_applies_to_a_service_called_outside_a_request(
    quotas: QuotaService, tmp_path: Path
) -> None:
    # Before the policy travelled in the context, a service called outside the HTTP
    # middleware checked Zun's defaults whatever the operator's file said.
    path = tmp_path / "policy.yaml"
    path.write_text('"quota:update": "role:member"\n"quota:get": "!"\n')
    member = dataclasses.replace(MEMBER, policy=load_policy(path))
    await quotas.update(member, "p1", {"containers": 7})
    assert (await quotas.get(ADMIN, "p1", usages=False)).limits["containers"] == 7
    with pytest.raises(PolicyNotAuthorized, match="quota:get"):
        await quotas.get(member, "p1", usages=False)


async def test_a_context_without_a_policy_is_refused_loudly(quotas: QuotaService) -> None:
    with pytest.raises(NoPolicyInContext, match="quota:update"):
        await quotas.update(dataclasses.replace(ADMIN, policy=None), "p1", {"containers": 7})
    assert (await quotas.get(ADMIN, "p1", usages=False)).limits["containers"] != 7


async def test_bad_limits_are_invalid(quotas: QuotaService) -> None:
    with pytest.raises(InvalidValue):
        await quotas.update(ADMIN, "p1", {"containers": -2})
    with pytest.raises(InvalidValue):
        await quotas.update(ADMIN, "p1", {"volumes": 1})
    with pytest.raises(InvalidValue):
        await quotas.update(ADMIN, "p" * 256, {"containers": 1})


async def test_huge_cpu_limit_is_stored_and_enforced(
    stack: Stack, quotas: QuotaService, room: None
) -> None:
    await quotas.update(ADMIN, "p1", {"cpu": 2**31 - 1})  # in millis it passes 32 bits
    await create(stack, "fits", cpu=2.0)
    assert (await in_use(quotas))["cpu"] == 2.0
