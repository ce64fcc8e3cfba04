"""Counters (a container's generation, a host's revision) count every concurrent change."""

from __future__ import annotations

import asyncio

from dockyard.db.engine import transaction
from dockyard.db.repositories.containers import ContainerRepository
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.schemas.agent import ContainerReport, ReportBatch
from dockyard.schemas.containers import ContainerCreate, ContainerUpdate
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration

POLICY = Policy()  # the defaults; the API layer gives each request the operator's
ADMIN = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"admin"}), policy=POLICY)
CHANGES = 20


async def test_concurrent_resizes_each_bump_generation_and_revision_once(stack: Stack) -> None:
    host = await stack.hosts.register(registration(cpus=4, mem_total=4096))
    body = ContainerCreate(
        name="counted", image="img", command=["true"], cpu=0.1, memory=64,
        sandbox_mode="standalone",
    )  # fmt: skip
    row = await stack.containers.create(ADMIN, body, run=True, legacy_command=False)
    (row,) = await stack.placed(ADMIN, row)
    running = ContainerReport(uuid=row.uuid, generation=1, status="Running", container_id="c")
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[running]))
    before = (await stack.hosts.get(host.uuid)).revision
    sizes = [ContainerUpdate(memory=64 + i) for i in range(1, CHANGES + 1)]
    updated = await asyncio.gather(*(stack.containers.update(ADMIN, row.uuid, s) for s in sizes))
    assert sorted(u.generation for u in updated) == list(range(2, CHANGES + 2))
    assert len({u.revision for u in updated}) == CHANGES
    stored = await stack.containers.get(ADMIN, row.uuid)
    assert stored.generation == 1 + CHANGES
    assert (await stack.hosts.get(host.uuid)).revision == before + CHANGES
    assert (await stack.hosts.get(host.uuid)).mem_used == stored.memory


async def test_generation_is_incremented_in_sql_by_every_transaction(stack: Stack) -> None:
    await stack.hosts.register(registration(cpus=4))
    body = ContainerCreate(name="bumped", image="img", command=["true"], cpu=0.1, memory=64)
    row = await stack.containers.create(ADMIN, body, run=True, legacy_command=False)

    async def bump() -> int:
        async with transaction(stack.hosts.sessions) as session:
            stale = await ContainerRepository(session, TenantScope.all_projects()).get(row.uuid)
            await asyncio.sleep(0)  # the others read the same generation meanwhile
            return await ContainerRepository(session, TenantScope.all_projects()).bump_generation(
                stale
            )

    got = await asyncio.gather(*(bump() for _ in range(CHANGES)))
    assert sorted(got) == list(range(2, CHANGES + 2))
