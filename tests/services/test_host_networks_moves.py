"""A host's networks are computed again after a change that may move them (a port made or
gone, a name), not after one that cannot (a stop, a delete asked for, a sandbox retired):
that computation took 7 queries on the loop the creates run on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dockyard.domain.tenancy import RequestContext
from dockyard.schemas.agent import ContainerReport, ReportBatch, SandboxReport
from dockyard.schemas.containers import ContainerCreate, ContainerUpdate
from dockyard.schemas.netplane import HostNetworks
from dockyard.services import hostnetworks
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration

ADMIN = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"admin"}), policy=Policy())


def spec(name: str) -> ContainerCreate:
    return ContainerCreate(
        name=name, image="img", command=["true"], cpu=0.1, memory=64, sandbox_mode="sandbox"
    )


class Agent:
    """Takes the host's batches as its agent does: it asks again right after each one."""

    def __init__(self, stack: Stack, host_uuid: str, since: int) -> None:
        self.stack, self.host_uuid, self.since = stack, host_uuid, since
        self.networks: HostNetworks | None = None

    async def settle(self) -> None:
        """Until a long-poll ends with nothing new (its short wait over)."""
        for _ in range(20):
            batch = await self.stack.hosts.assignments(self.host_uuid, self.since, 0.3)
            self.since = batch.revision
            if batch.networks is not None:
                self.networks = batch.networks
            if not (batch.containers or batch.sandboxes or batch.networks):
                return
        raise AssertionError("the host's batches did not settle")

    def names(self) -> list[str]:
        assert self.networks is not None
        return [r.name for records in self.networks.dns.values() for r in records]


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hosts whose networks were computed, one entry per computation."""
    found: list[str] = []
    real = hostnetworks._compute

    async def counted(session: Any, row: Any) -> Any:
        found.append(row.uuid)
        return await real(session, row)

    monkeypatch.setattr(hostnetworks, "_compute", counted)
    return found


async def test_networks_are_computed_again_only_after_what_may_move_them(
    stack: Stack, computed: list[str]
) -> None:
    host = await stack.hosts.register(registration())
    agent = Agent(stack, host.uuid, 0)
    await stack.hosts.assignments(host.uuid, 0, 0, full=True)
    row = await stack.containers.create(ADMIN, spec("first"), run=True, legacy_command=False)
    [row] = await stack.placed(ADMIN, row)
    await agent.settle()
    assert agent.names() == ["first"]  # its port came with it
    assert computed, "the new port's networks were not computed"
    report = ContainerReport(uuid=row.uuid, generation=row.generation, status="Running")
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[report]))
    await agent.settle()
    before = len(computed)

    stopped = await stack.containers.stop(ADMIN, row.uuid, None)
    await agent.settle()
    await asyncio.sleep(0.2)  # a computation put off until after the batch would run by now
    assert len(computed) == before  # a stop moves no port

    await stack.containers.update(ADMIN, row.uuid, ContainerUpdate(name="renamed"))
    await agent.settle()
    assert agent.names() == ["renamed"]  # its name record moved
    assert len(computed) > before
    before = len(computed)

    await stack.containers.delete(ADMIN, row.uuid, force=True, stop=True, all_projects=False)
    await agent.settle()
    await asyncio.sleep(0.2)
    assert len(computed) == before  # asked for: its port stays until it is gone
    assert agent.names() == ["renamed"]

    gone = ContainerReport(uuid=row.uuid, generation=stopped.generation + 1, gone=True)
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[gone]))
    await agent.settle()
    assert agent.networks is not None
    assert agent.networks.networks == []  # its port went
    assert len(computed) > before
    before = len(computed)

    assert row.sandbox_uuid is not None
    sandbox = SandboxReport(uuid=row.sandbox_uuid, generation=99, gone=True)
    await stack.hosts.apply_reports(host.uuid, ReportBatch(sandboxes=[sandbox]))
    await agent.settle()
    await asyncio.sleep(0.2)
    assert len(computed) == before  # a container's sandbox had no port of its own
