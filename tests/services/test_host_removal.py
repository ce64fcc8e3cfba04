"""Removing a host (DELETE /v1/services) with capsules on it: every row naming the host lets
go of it in the same transaction, so the host row goes and nothing is left half-removed."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from dockyard.db.engine import transaction
from dockyard.db.repositories.hosts import Claim
from dockyard.db.repositories.pending import PendingRepository, Placement
from dockyard.db.tables import utcnow
from dockyard.errors import CapsuleNotFound, ContainerNotFound
from dockyard.services.capsules import CapsuleService
from dockyard.services.hostadmin import COMPUTE, HostAdmin
from tests.services.conftest import Stack, registration
from tests.services.test_capsule_ports import CTX, capsule
from tests.services.test_containers import ADMIN, spec


def _services(stack: Stack) -> tuple[CapsuleService, HostAdmin]:
    sessions = stack.containers.sessions
    capsules = CapsuleService(sessions, stack.settings, stack.containers.directory)
    return capsules, HostAdmin(sessions, stack.containers.directory)


async def test_removing_a_host_leaves_its_capsule_in_error_with_no_host(stack: Stack) -> None:
    host = await stack.hosts.register(registration(cpus=4, mem_total=4096))
    capsules, admin = _services(stack)
    view = await capsules.create(CTX, capsule("web", []))
    await stack.placed(CTX, *view.containers)
    placed = await capsules.get(CTX, view.row.uuid)
    assert placed.sandbox is not None
    assert placed.sandbox.host_uuid == host.uuid

    assert await admin.remove("host-a", COMPUTE) == host.uuid

    after = await capsules.get(CTX, view.row.uuid)
    assert after.row.host_uuid is None
    assert after.status == "Error"
    assert after.sandbox is not None
    assert after.sandbox.host_uuid is None
    assert [(m.host_uuid, m.status) for m in after.containers] == [(None, "Error")]
    hosts, _ = await admin.list_hosts()
    assert hosts == []


async def test_removing_a_host_finishes_its_capsule_being_deleted(stack: Stack) -> None:
    await stack.hosts.register(registration(cpus=4, mem_total=4096))
    capsules, admin = _services(stack)
    view = await capsules.create(CTX, capsule("gone", []))
    await stack.placed(CTX, *view.containers)
    await capsules.delete(CTX, view.row.uuid)  # its agent never reports the members gone

    await admin.remove("host-a", COMPUTE)

    with pytest.raises(CapsuleNotFound):
        await capsules.get(CTX, view.row.uuid)
    for member in view.containers:
        with pytest.raises(ContainerNotFound):
            await stack.containers.get(CTX, member.uuid)


async def test_a_placement_committing_during_the_removal_is_orphaned_too(stack: Stack) -> None:
    """The scheduler locks the host, claims it and assigns a container; the removal, started
    meanwhile, must see that container once the placement commits (it locks the host row
    first), not delete the host under it (a foreign-key failure, a 500)."""
    host = await stack.hosts.register(registration(cpus=4))
    await stack.scheduler.stop()  # this test places the container itself
    row = await stack.containers.create(ADMIN, spec("late"), run=True, legacy_command=False)
    _, admin = _services(stack)
    sessions = stack.containers.sessions
    async with transaction(sessions) as session:
        pending = PendingRepository(session)
        want = Claim(cpu=0.1, memory=16, disk=0, cpu_ratio=1.0, ram_ratio=1.0, disk_ratio=1.0)
        [usage] = (await pending.claim_many({host.uuid: want}, utcnow() - timedelta(60))).values()
        await pending.assign([Placement(row.uuid, host.uuid, usage.revision)])
        removal = asyncio.create_task(admin.remove("host-a", COMPUTE))
        await asyncio.sleep(0.5)  # the removal runs as far as it can meanwhile
        assert not removal.done()
    assert await removal == host.uuid

    after = await stack.containers.get(ADMIN, row.uuid)
    assert (after.host_uuid, after.status) == (None, "Error")
    assert (await admin.list_hosts())[0] == []
