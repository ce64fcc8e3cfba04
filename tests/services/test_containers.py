"""Container use cases against a real database: placement claims, tenancy, reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import ContainerAlreadyExists, ContainerNotFound, InvalidStateException
from dockyard.schemas.agent import ContainerReport, ReportBatch
from dockyard.schemas.containers import ContainerCreate
from tests.services.conftest import Stack, registration

ADMIN = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"admin"}))
MEMBER_P2 = RequestContext(project_id="p2", user_id="u2", roles=frozenset({"member"}))


def spec(name: str, cpu: float = 0.1, memory: int = 64, **extra: object) -> ContainerCreate:
    fields: dict[str, object] = {"sandbox_mode": "standalone", **extra}
    return ContainerCreate(name=name, image="img", command=["true"], cpu=cpu, memory=memory,
                           **fields)  # fmt: skip


async def test_concurrent_creates_never_overcommit_a_host(stack: Stack) -> None:
    host = await stack.hosts.register(registration(cpus=1))  # room for exactly 10 × 0.1 cpu
    rows = await asyncio.gather(
        *(stack.containers.create(ADMIN, spec(f"c{i}"), run=True, legacy_command=False)
          for i in range(30))
    )  # fmt: skip
    placed = [r for r in rows if r.host_uuid == host.uuid]
    assert len(placed) == 10
    assert all(r.status == "Creating" for r in rows)
    stored = await stack.hosts.get(host.uuid)
    assert stored.cpu_used == pytest.approx(1.0)


async def test_unplaced_container_is_placed_when_a_host_registers(stack: Stack) -> None:
    row = await stack.containers.create(ADMIN, spec("early"), run=True, legacy_command=False)
    assert row.host_uuid is None
    host = await stack.hosts.register(registration())
    again = await stack.containers.get(ADMIN, row.uuid)
    assert again.host_uuid == host.uuid


async def test_names_are_unique_within_a_project_only(stack: Stack) -> None:
    await stack.containers.create(ADMIN, spec("same"), run=False, legacy_command=False)
    with pytest.raises(ContainerAlreadyExists):
        await stack.containers.create(ADMIN, spec("same"), run=False, legacy_command=False)
    other = await stack.containers.create(MEMBER_P2, spec("same"), run=False, legacy_command=False)
    assert other.project_id == "p2"


async def test_another_projects_container_is_not_found(stack: Stack) -> None:
    row = await stack.containers.create(ADMIN, spec("mine"), run=False, legacy_command=False)
    with pytest.raises(ContainerNotFound):
        await stack.containers.get(MEMBER_P2, row.uuid)
    with pytest.raises(ContainerNotFound):
        await stack.containers.get(MEMBER_P2, "mine")


async def test_assignment_watch_wakes_on_a_new_container(stack: Stack) -> None:
    host = await stack.hosts.register(registration())
    first = await stack.hosts.assignments(host.uuid, 0, 0, full=True)
    watch = asyncio.create_task(stack.hosts.assignments(host.uuid, first.revision, 10))
    await asyncio.sleep(0.05)
    assert not watch.done()
    row = await stack.containers.create(ADMIN, spec("woken"), run=True, legacy_command=False)
    batch = await asyncio.wait_for(watch, 5)
    assert [a.uuid for a in batch.containers] == [row.uuid]
    assert batch.revision > first.revision


async def test_report_of_running_container_is_recorded_and_acknowledges(stack: Stack) -> None:
    host = await stack.hosts.register(registration())
    row = await stack.containers.create(ADMIN, spec("rep"), run=True, legacy_command=False)
    started = datetime.now(UTC)
    report = ContainerReport(uuid=row.uuid, generation=row.generation, status="Running",
                             container_id="abc", started_at=started)  # fmt: skip
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[report]))
    stored = await stack.containers.get(ADMIN, row.uuid)
    assert (stored.status, stored.container_id, stored.observed_generation) == (
        "Running", "abc", row.generation)  # fmt: skip
    assert stored.started_at == started


async def test_delete_of_running_container_is_conflict_unless_stop(stack: Stack) -> None:
    host = await stack.hosts.register(registration())
    row = await stack.containers.create(ADMIN, spec("del"), run=True, legacy_command=False)
    report = ContainerReport(uuid=row.uuid, generation=row.generation, status="Running",
                             container_id="abc")  # fmt: skip
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[report]))
    with pytest.raises(InvalidStateException):
        await stack.containers.delete(ADMIN, row.uuid, force=False, stop=False, all_projects=False)
    await stack.containers.delete(ADMIN, row.uuid, force=False, stop=True, all_projects=False)
    deleting = await stack.containers.get(ADMIN, row.uuid)
    assert deleting.status == "Deleting"
    # An observation older than the delete must not resurrect the status.
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[report]))
    assert (await stack.containers.get(ADMIN, row.uuid)).status == "Deleting"
    gone = ContainerReport(uuid=row.uuid, generation=deleting.generation, gone=True)
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[gone]))
    with pytest.raises(ContainerNotFound):
        await stack.containers.get(ADMIN, row.uuid)
    assert (await stack.hosts.get(host.uuid)).cpu_used == pytest.approx(0.0)


async def test_container_removed_outside_dockyard_becomes_error(stack: Stack) -> None:
    host = await stack.hosts.register(registration())
    row = await stack.containers.create(ADMIN, spec("lost"), run=True, legacy_command=False)
    gone = ContainerReport(uuid=row.uuid, generation=row.generation, gone=True)
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[gone]))
    stored = await stack.containers.get(ADMIN, row.uuid)
    assert stored.status == "Error"
    assert "outside Dockyard" in (stored.status_reason or "")


async def test_unplaced_container_is_deleted_at_once(stack: Stack) -> None:
    row = await stack.containers.create(ADMIN, spec("nohost"), run=False, legacy_command=False)
    await stack.containers.delete(ADMIN, row.uuid, force=True, stop=False, all_projects=False)
    with pytest.raises(ContainerNotFound):
        await stack.containers.get(ADMIN, row.uuid)
