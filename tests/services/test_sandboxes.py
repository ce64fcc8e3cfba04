"""Sandboxes against a real database: made with a container, joined, retired with the last."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import InvalidValue, SandboxNotFound
from dockyard.schemas.agent import ContainerReport, ReportBatch, SandboxReport
from dockyard.schemas.containers import ContainerCreate
from dockyard.services.policy import Policy
from dockyard.services.sandboxes import SandboxService
from tests.services.conftest import Stack, registration

POLICY = Policy()  # the defaults; the API layer gives each request the operator's
P1 = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"member"}), policy=POLICY)
P2 = RequestContext(project_id="p2", user_id="u2", roles=frozenset({"member"}), policy=POLICY)
P1_ADMIN = RequestContext(project_id="p1", user_id="a", roles=frozenset({"admin"}), policy=POLICY)


def spec(name: str, **extra: Any) -> ContainerCreate:
    return ContainerCreate(name=name, image="img", cpu=0.5, memory=64, **extra)


async def gone(stack: Stack, host: str, uuid: str, generation: int) -> None:
    report = ContainerReport(uuid=uuid, generation=generation, gone=True)
    await stack.hosts.apply_reports(host, ReportBatch(reports=[report]))


async def test_sandbox_is_made_with_its_container_and_charged_on_the_same_host(
    stack: Stack,
) -> None:
    host = await stack.hosts.register(registration(cpus=2))
    row = await stack.containers.create(P1, spec("web"), run=True, legacy_command=False)
    (row,) = await stack.placed(P1, row)
    assert row.sandbox_uuid is not None
    assert row.host_uuid == host.uuid
    batch = await stack.hosts.assignments(host.uuid, 0, 0, full=True)
    assert [s.uuid for s in batch.sandboxes] == [row.sandbox_uuid]
    assert batch.containers[0].sandbox is not None
    assert batch.containers[0].sandbox.uuid == row.sandbox_uuid
    sandbox_cost = stack.settings.containers.sandbox_cpu
    assert (await stack.hosts.get(host.uuid)).cpu_used == pytest.approx(0.5 + sandbox_cost)


async def test_a_container_joins_a_sandbox_of_its_own_project_only(stack: Stack) -> None:
    await stack.hosts.register(registration(cpus=2))
    first = await stack.containers.create(P1, spec("one"), run=True, legacy_command=False)
    sandbox = str(first.sandbox_uuid)
    second = await stack.containers.create(
        P1, spec("two", sandbox=sandbox), run=True, legacy_command=False
    )
    first, second = await stack.placed(P1, first, second)
    assert second.sandbox_uuid == sandbox
    assert second.host_uuid == first.host_uuid
    with pytest.raises(SandboxNotFound):
        await stack.containers.create(P2, spec("three", sandbox=sandbox), run=True,
                                      legacy_command=False)  # fmt: skip
    with pytest.raises(InvalidValue):
        await stack.containers.create(P1, spec("four", sandbox=sandbox, hostname="x"),
                                      run=True, legacy_command=False)  # fmt: skip
    listed = await SandboxService(stack.containers.sessions).list(
        P1, limit=10, marker=None, all_projects=False
    )
    assert [(r.uuid, sorted(m)) for r, m in listed] == [
        (sandbox, sorted([first.uuid, second.uuid]))
    ]


async def test_standalone_container_has_no_sandbox(stack: Stack) -> None:
    await stack.hosts.register(registration())
    row = await stack.containers.create(P1, spec("plain", sandbox_mode="standalone"), run=True,
                                        legacy_command=False)  # fmt: skip
    assert row.sandbox_uuid is None


async def test_sandbox_is_retired_with_its_last_container_and_its_charge_released(
    stack: Stack,
) -> None:
    host = await stack.hosts.register(registration(cpus=2))
    one = await stack.containers.create(P1, spec("one"), run=True, legacy_command=False)
    two = await stack.containers.create(P1, spec("two", sandbox=one.sandbox_uuid), run=True,
                                        legacy_command=False)  # fmt: skip
    one, two = await stack.placed(P1, one, two)
    for row in (one, two):
        await stack.containers.delete(
            P1_ADMIN, row.uuid, force=True, stop=False, all_projects=False
        )
    await gone(stack, host.uuid, one.uuid, one.generation + 1)
    (kept,) = await SandboxService(stack.containers.sessions).list(
        P1, limit=10, marker=None, all_projects=False
    )
    assert kept[0].desired_state == "running"
    await gone(stack, host.uuid, two.uuid, two.generation + 1)
    sandbox, members = await SandboxService(stack.containers.sessions).get(
        P1, str(one.sandbox_uuid)
    )
    assert (sandbox.desired_state, sandbox.status, members) == ("deleted", "Deleting", [])
    report = SandboxReport(uuid=sandbox.uuid, generation=sandbox.generation, gone=True)
    await stack.hosts.apply_reports(host.uuid, ReportBatch(sandboxes=[report]))
    with pytest.raises(SandboxNotFound):
        await SandboxService(stack.containers.sessions).get(P1, sandbox.uuid)
    assert (await stack.hosts.get(host.uuid)).cpu_used == pytest.approx(0.0)
