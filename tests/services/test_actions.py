"""Container actions against a real database: every outcome recorded, engine errors for
administrators only, another project's container not found."""

from __future__ import annotations

import dataclasses

import pytest

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import (
    ContainerAlreadyExists,
    ContainerNotFound,
    InvalidStateException,
    ResourceNotFound,
    RuntimeFailure,
)
from dockyard.schemas.agent import ContainerReport, ReportBatch
from dockyard.services.actions import ActionService
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration
from tests.services.test_containers import spec

POLICY = Policy()
OWNER = RequestContext("p1", "u1", frozenset({"member"}), request_id="req-1", policy=POLICY)
ADMIN = RequestContext("admin-p", "root", frozenset({"admin"}), policy=POLICY)
OTHER = RequestContext("p2", "u2", frozenset({"member"}), policy=POLICY)


def at(ctx: RequestContext, request_id: str) -> RequestContext:
    return dataclasses.replace(ctx, request_id=request_id)


async def test_each_outcome_is_recorded_and_engine_errors_are_for_admins(stack: Stack) -> None:
    actions = ActionService(stack.containers.sessions)
    async with actions.recorded(at(OWNER, "req-create"), "create") as recording:
        row = await stack.containers.create(OWNER, spec("rec"), run=False, legacy_command=False)
        recording.container_uuid = row.uuid
    # No host here: the scheduler fails the create, and that is its outcome.
    await stack.containers.wait_for_status(OWNER, row.uuid, frozenset({"Error"}), 10)
    with pytest.raises(InvalidStateException):
        async with actions.recorded(at(OWNER, "req-unpause"), "unpause", row.name):
            await stack.containers.unpause(OWNER, row.uuid)
    with pytest.raises(RuntimeFailure):
        async with actions.recorded(at(OWNER, "req-kill"), "kill", row.uuid):
            raise RuntimeFailure("engine: cgroup /secret/path is gone")

    listed = await actions.list(OWNER, row.name)
    assert [a["action"] for a in listed] == ["kill", "unpause", "create"]  # newest first
    by_request = {a["request_id"]: a for a in listed}
    assert by_request["req-create"]["message"] == "Error"  # finished by the scheduler's failure
    assert by_request["req-create"]["container_uuid"] == row.uuid
    assert (by_request["req-create"]["user_id"], by_request["req-create"]["project_id"]) == (
        "u1", "p1",
    )  # fmt: skip
    assert "unpause" in by_request["req-unpause"]["message"].lower()  # the caller's own mistake
    assert by_request["req-kill"]["message"] == "Error"  # the engine's words are not shown
    assert all(a["start_time"] <= a["finish_time"] for a in listed)

    mine = await actions.get(OWNER, row.uuid, "req-kill")
    (event,) = mine["events"]
    assert (event["result"], event["traceback"]) == ("Error", None)
    theirs = await actions.get(ADMIN, row.uuid, "req-kill")
    assert "cgroup /secret/path is gone" in theirs["events"][0]["traceback"]
    assert "Traceback" in theirs["events"][0]["traceback"]
    ok = await actions.get(ADMIN, row.uuid, "req-create")
    assert [(e["event"], e["result"], e["traceback"]) for e in ok["events"]] == [
        ("api_create", "Success", None),
        ("scheduler", "Error", "There are not enough hosts available."),
    ]


async def test_actions_of_another_projects_container_are_not_found(stack: Stack) -> None:
    actions = ActionService(stack.containers.sessions)
    row = await stack.containers.create(OWNER, spec("hidden"), run=False, legacy_command=False)
    async with actions.recorded(at(OWNER, "req-a"), "start", row.uuid):
        pass
    with pytest.raises(ContainerNotFound):
        await actions.list(OTHER, row.uuid)
    with pytest.raises(ContainerNotFound):
        await actions.get(OTHER, row.uuid, "req-a")
    with pytest.raises(ContainerNotFound):  # nor may it record one against it
        async with actions.recorded(at(OTHER, "req-b"), "stop", row.uuid):
            pytest.fail("an unknown container's operation must not run")
    with pytest.raises(ResourceNotFound):
        await actions.get(OWNER, row.uuid, "req-unknown")
    assert [a["request_id"] for a in await actions.list(OWNER, row.uuid)] == ["req-a"]


async def test_a_create_that_made_nothing_records_nothing(stack: Stack) -> None:
    actions = ActionService(stack.containers.sessions)
    row = await stack.containers.create(OWNER, spec("taken"), run=False, legacy_command=False)

    async def create_again() -> None:
        async with actions.recorded(at(OWNER, "req-dup"), "create") as recording:
            dup = await stack.containers.create(
                OWNER, spec("taken"), run=False, legacy_command=False
            )
            recording.container_uuid = dup.uuid

    with pytest.raises(ContainerAlreadyExists):
        await create_again()
    assert await actions.list(OWNER, row.uuid) == []


async def test_an_accepted_action_finishes_when_its_host_reports_the_outcome(
    stack: Stack,
) -> None:
    actions = ActionService(stack.containers.sessions)
    host = await stack.hosts.register(registration())
    async with actions.recorded(at(ADMIN, "req-run"), "create") as recording:
        row = await stack.containers.create(ADMIN, spec("waits"), run=True, legacy_command=False)
        recording.container_uuid = row.uuid
    (placed,) = await stack.placed(ADMIN, row)
    assert placed.host_uuid == host.uuid
    (open_,) = await actions.list(ADMIN, row.uuid)
    assert (open_["finish_time"], open_["message"]) == (None, None)  # the host is at it
    older = ContainerReport(uuid=row.uuid, generation=row.generation, in_progress=True,
                            status="Creating", task_state="image_pulling")  # fmt: skip
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[older]))
    assert (await actions.list(ADMIN, row.uuid))[0]["finish_time"] is None
    done = ContainerReport(uuid=row.uuid, generation=row.generation, status="Running",
                           container_id="abc")  # fmt: skip
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[done]))
    (finished,) = await actions.list(ADMIN, row.uuid)
    assert finished["message"] is None
    assert finished["start_time"] <= finished["finish_time"]
    shown = await actions.get(ADMIN, row.uuid, "req-run")
    assert [(e["event"], e["result"]) for e in shown["events"]] == [
        ("api_create", "Success"), ("agent_report", "Success"),
    ]  # fmt: skip

    async with actions.recorded(at(ADMIN, "req-stop"), "stop", row.uuid):
        stopping = await stack.containers.stop(ADMIN, row.uuid, None)
    failed = ContainerReport(uuid=row.uuid, generation=stopping.generation, status="Error",
                             status_reason="engine: cannot stop")  # fmt: skip
    await stack.hosts.apply_reports(host.uuid, ReportBatch(reports=[failed]))
    stop = await actions.get(ADMIN, row.uuid, "req-stop")
    assert (stop["message"], stop["finish_time"] is not None) == ("Error", True)
    assert stop["events"][-1]["traceback"] == "engine: cannot stop"
