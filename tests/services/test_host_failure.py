"""Containers on a silent host: Unknown, still deletable; the delete finishes when it answers."""

from __future__ import annotations

import pytest

from dockyard.errors import ContainerNotFound, InvalidStateException
from dockyard.schemas.agent import ContainerReport, ReportBatch
from tests.services.conftest import Stack, registration
from tests.services.test_containers import ADMIN, spec


async def _running(stack: Stack, name: str) -> tuple[str, str]:
    host = await stack.hosts.register(registration(cpus=4))
    row = await stack.containers.create(ADMIN, spec(name), run=True, legacy_command=False)
    await stack.placed(ADMIN, row)
    report = ContainerReport(uuid=row.uuid, generation=row.generation, status="Running",
                             container_id="abc")  # fmt: skip
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[report]))
    return host.uuid, row.uuid


@pytest.mark.parametrize(("stop", "force"), [(False, False), (True, False), (False, True)])
async def test_container_of_a_silent_host_is_deleted_when_its_agent_answers(
    stack: Stack, stop: bool, force: bool
) -> None:
    host, uuid = await _running(stack, "stranded")
    stack.settings.scheduler.host_down_after = 0.0  # every heartbeat is now too old
    assert host in await stack.containers.hosts_down()
    await stack.containers.delete(ADMIN, uuid, force=force, stop=stop, all_projects=False)
    deleting = await stack.containers.get(ADMIN, uuid)
    assert (deleting.status, deleting.desired_state) == ("Deleting", "deleted")
    gone = ContainerReport(uuid=uuid, generation=deleting.generation, gone=True)
    await stack.hosts.apply_reports(host, ReportBatch(reports=[gone]))  # the agent is back
    with pytest.raises(ContainerNotFound):
        await stack.containers.get(ADMIN, uuid)
    assert (await stack.hosts.get(host)).cpu_used == pytest.approx(0.0)


async def test_running_container_of_a_live_host_still_needs_stop_to_delete(stack: Stack) -> None:
    _, uuid = await _running(stack, "alive")
    with pytest.raises(InvalidStateException, match="Running"):
        await stack.containers.delete(ADMIN, uuid, force=False, stop=False, all_projects=False)
