"""Container use cases against a real database: placement claims, tenancy, reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from dockyard.db.engine import transaction
from dockyard.db.repositories.containers import ShownContainer
from dockyard.db.tables import ContainerRow
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import (
    Conflict,
    ContainerAlreadyExists,
    ContainerNotFound,
    InvalidStateException,
)
from dockyard.schemas.agent import ContainerReport, ReportBatch
from dockyard.schemas.containers import ContainerCreate
from dockyard.services import hostnetworks
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration

POLICY = Policy()  # the defaults; the API layer gives each request the operator's
ADMIN = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"admin"}), policy=POLICY)
MEMBER_P2 = RequestContext(
    project_id="p2", user_id="u2", roles=frozenset({"member"}), policy=POLICY
)
NO_HOST = "There are not enough hosts available."


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
    assert all(r.status == "Creating" for r in rows)  # answered at once, placed or pending
    rows = await stack.placed(ADMIN, *rows)
    placed = [r for r in rows if r.host_uuid == host.uuid]
    assert len(placed) == 10
    assert all(r.status == "Creating" for r in placed)
    refused = [r for r in rows if r.host_uuid is None]
    assert {(r.status, r.status_reason) for r in refused} == {("Error", NO_HOST)}
    assert len(refused) == 20
    stored = await stack.hosts.get(host.uuid)
    assert stored.cpu_used == pytest.approx(1.0)


async def test_a_create_is_placed_in_its_own_transaction_while_the_scheduler_runs(
    stack: Stack,
) -> None:
    host = await stack.hosts.register(registration(cpus=1))
    row = await stack.containers.create(ADMIN, spec("now", cpu=0.5, sandbox_mode="sandbox"),
                                        run=True, legacy_command=False)  # fmt: skip
    assert row.host_uuid == host.uuid  # in the create's answer: no batch came between
    stored = await stack.hosts.get(host.uuid)
    sandbox_cpu = stack.settings.containers.sandbox_cpu
    assert stored.cpu_used == pytest.approx(0.5 + sandbox_cpu)  # its sandbox went with it
    assert row.revision == stored.revision  # its agent's watch hears of it


async def test_a_create_reads_its_network_and_writes_its_row_once(stack: Stack) -> None:
    """Each statement of a create's transaction is on the POST's path: the default network
    is read once, the new row takes its addresses and host in one UPDATE, the quota's
    limits (its class's and its own) come in one statement."""
    await stack.hosts.register(registration(cpus=2))
    await stack.containers.create(ADMIN, spec("first"), run=True, legacy_command=False)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(stack.engine.sync_engine, "before_cursor_execute", seen)
    try:
        row = await stack.containers.create(ADMIN, spec("counted", sandbox_mode="sandbox"),
                                            run=True, legacy_command=False)  # fmt: skip
    finally:
        event.remove(stack.engine.sync_engine, "before_cursor_execute", seen)
    assert row.host_uuid is not None  # placed in its own transaction, as counted

    def count(start: str, about: str = "") -> int:
        return sum(s.startswith(start) and about in s for s in statements)

    assert count("SELECT networks.uuid, networks.project_id,") == 1
    assert count("UPDATE containers SET") == 1
    assert count("SELECT", "FROM quota") == 1


async def test_a_create_waits_for_the_loop_where_it_does_not_run(stack: Stack) -> None:
    await stack.hosts.register(registration(cpus=1))
    await stack.scheduler.stop()  # as `dockyard api --no-scheduler`: others place
    row = await stack.containers.create(ADMIN, spec("later"), run=True, legacy_command=False)
    assert row.host_uuid is None
    stack.scheduler.start()
    (row,) = await stack.placed(ADMIN, row)
    assert row.host_uuid is not None


async def test_a_container_no_host_can_take_is_error_at_once(stack: Stack) -> None:
    row = await stack.containers.create(ADMIN, spec("early"), run=True, legacy_command=False)
    (row,) = await stack.placed(ADMIN, row)
    assert (row.host_uuid, row.status, row.status_reason) == (None, "Error", NO_HOST)
    await stack.hosts.register(registration())
    again = await stack.containers.get(ADMIN, row.uuid)  # Zun: no retry; the owner deletes it
    assert (again.host_uuid, again.status) == (None, "Error")


async def test_placement_spreads_over_hosts_and_claims_each_once(stack: Stack) -> None:
    hosts = [await stack.hosts.register(registration(f"h{i}", cpus=2)) for i in range(3)]
    rows = await asyncio.gather(
        *(stack.containers.create(ADMIN, spec(f"s{i}", cpu=0.5, memory=64), run=True,
                                  legacy_command=False) for i in range(12))
    )  # fmt: skip
    rows = await stack.placed(ADMIN, *rows)
    assert all(r.host_uuid for r in rows)
    for host in hosts:
        stored = await stack.hosts.get(host.uuid)
        mine = [r for r in rows if r.host_uuid == host.uuid]
        assert stored.cpu_used == pytest.approx(0.5 * len(mine))  # each claim counted once
        assert stored.mem_used == 64 * len(mine)
        assert len(mine) == 4  # spread fills every host to its limit (2 cpus each)


async def test_requested_host_pins_and_a_full_requested_host_is_no_host(stack: Stack) -> None:
    await stack.hosts.register(registration("wide", cpus=8))
    narrow = await stack.hosts.register(registration("narrow", cpus=1))
    pinned = await stack.containers.create(ADMIN, spec("pinned", host="narrow", cpu=1.0),
                                           run=False, legacy_command=False)  # fmt: skip
    (pinned,) = await stack.placed(ADMIN, pinned)
    assert pinned.host_uuid == narrow.uuid
    full = await stack.containers.create(ADMIN, spec("too-full", host="narrow", cpu=0.5),
                                         run=False, legacy_command=False)  # fmt: skip
    (full,) = await stack.placed(ADMIN, full)
    assert (full.host_uuid, full.status_reason) == (None, NO_HOST)


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


async def test_shown_finds_what_get_finds_in_every_scope(stack: Stack) -> None:
    """shown() (the GET's Core read) scopes like get(): an admin's single lookup reaches
    every project (a name two projects use is then ambiguous), a member's all_projects
    still only its own; list() scopes like before: all_projects for admins only."""
    mine = await stack.containers.create(ADMIN, spec("mine"), run=False, legacy_command=False)
    assert await listed(stack, MEMBER_P2) == []
    assert await listed(stack, MEMBER_P2, all_projects=True) == []
    with pytest.raises(ContainerNotFound):
        await stack.containers.shown(MEMBER_P2, "mine", True)
    theirs = await stack.containers.create(MEMBER_P2, spec("mine"), run=False,
                                           legacy_command=False)  # fmt: skip
    seen: list[object] = []
    for ctx in (ADMIN, MEMBER_P2):
        for ident in (mine.uuid, theirs.uuid, "mine", "nobody"):
            for everywhere in (False, True):
                outcomes = []
                for read in (stack.containers.get, stack.containers.shown):
                    try:
                        outcomes.append((await read(ctx, ident, everywhere)).uuid)
                    except (ContainerNotFound, Conflict) as exc:
                        outcomes.append(type(exc).__name__)
                assert outcomes[0] == outcomes[1], (ctx.project_id, ident, everywhere)
                seen.append(outcomes[0])
    assert {mine.uuid, theirs.uuid, "ContainerNotFound", "Conflict"} <= set(seen)
    assert [r.uuid for r in await listed(stack, MEMBER_P2, all_projects=True)] == [theirs.uuid]
    assert [r.uuid for r in await listed(stack, ADMIN)] == [mine.uuid]
    everyone = await listed(stack, ADMIN, all_projects=True, sort_key="project_id")
    assert [r.uuid for r in everyone] == [mine.uuid, theirs.uuid]


async def test_the_shown_container_is_the_row_as_the_orm_loads_it(stack: Stack) -> None:
    """GET reads a ShownContainer (Core) where it read the ORM row: every field the view
    reads must hold the same value, observed columns set or not."""
    await stack.hosts.register(registration(cpus=2))
    bare = await stack.containers.create(ADMIN, spec("bare"), run=False, legacy_command=False)
    full = await stack.containers.create(
        ADMIN, spec("full", exposed_ports={"80/tcp": {}}, labels={"a": "b"}),
        run=True, legacy_command=False,
    )  # fmt: skip
    (full,) = await stack.placed(ADMIN, full)
    async with transaction(stack.containers.sessions) as session:
        row = await session.get(ContainerRow, full.uuid)
        assert row is not None
        row.started_at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
        row.finished_at = datetime(2026, 1, 2, 3, 5, 5, tzinfo=UTC)
        row.exit_code, row.ports, row.task_state = 3, [80, 8080], "container_stopping"
        row.status_reason, row.hostname = "why", "box"
    for made in (bare, full):
        orm = await stack.containers.get(ADMIN, made.uuid)
        by_name = await stack.containers.shown(ADMIN, made.name)
        (in_list,) = await listed(stack, ADMIN, filters={"name": made.name})
        for shown in (await stack.containers.shown(ADMIN, made.uuid), by_name, in_list):
            assert {f: getattr(orm, f) for f in ShownContainer._fields} == shown._asdict()
    assert orm.started_at is not None  # the last compared had every observed column set
    assert orm.addresses
    assert orm.ports
    page = await listed(stack, ADMIN, sort_key="name", sort_dir="desc", limit=1)
    assert [r.uuid for r in page] == [full.uuid]
    after = await listed(stack, ADMIN, sort_key="name", sort_dir="desc", marker=full.uuid)
    assert [r.uuid for r in after] == [bare.uuid]
    # Filters of every column type, and the same shape again with other values (the list's
    # statement is built once per shape; its values are parameters).
    both = {"memory": 64, "auto_remove": False, "user_id": "u1"}
    assert [r.uuid for r in await listed(stack, ADMIN, filters=both)] == [bare.uuid, full.uuid]
    assert await listed(stack, ADMIN, filters={**both, "memory": 65}) == []
    assert await listed(stack, ADMIN, filters={**both, "auto_remove": True}) == []
    placed = {"host_uuid": full.host_uuid, "task_state": "container_stopping"}
    assert [r.uuid for r in await listed(stack, ADMIN, filters=placed)] == [full.uuid]
    assert await listed(stack, ADMIN, filters={**placed, "host_uuid": "-"}) == []


async def listed(
    stack: Stack,
    ctx: RequestContext,
    *,
    filters: dict[str, Any] | None = None,
    all_projects: bool = False,
    sort_key: str = "id",
    sort_dir: str = "asc",
    limit: int = 100,
    marker: str | None = None,
) -> list[ShownContainer]:
    return await stack.containers.list(
        ctx, filters or {}, limit=limit, marker=marker, sort_key=sort_key, sort_dir=sort_dir,
        all_projects=all_projects,
    )  # fmt: skip


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


async def test_a_woken_long_poll_reads_the_host_once_and_ports_with_subnets(
    stack: Stack,
) -> None:
    """The batch's read sits between a create's commit and its agent's engine create: the
    revision the wait loop read serves the batch, and the sandbox's ports come with their
    subnets in one statement."""
    host = await stack.hosts.register(registration())
    first = await stack.hosts.assignments(host.uuid, 0, 0, full=True)
    row = await stack.containers.create(ADMIN, spec("boxed", sandbox_mode="sandbox"),
                                        run=True, legacy_command=False)  # fmt: skip
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(stack.engine.sync_engine, "before_cursor_execute", seen)
    try:
        batch = await stack.hosts.assignments(host.uuid, first.revision, 5)
    finally:
        event.remove(stack.engine.sync_engine, "before_cursor_execute", seen)
    [assignment] = batch.containers
    assert assignment.uuid == row.uuid
    [sandbox] = batch.sandboxes
    [port] = sandbox.ports
    assert port.gateway is not None  # its subnet's, from the same statement
    assert batch.networks is None  # computed after the batch (not counted here)
    assert sum(s.startswith("SELECT") and "FROM hosts" in s for s in statements) == 1
    assert sum(s.startswith("SELECT") and "FROM ports" in s for s in statements) == 1
    assert not any(s.startswith("SELECT subnets.") for s in statements)


async def test_a_placed_container_goes_out_before_its_host_s_networks(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-poll's batch does not wait for the host's networks (computed beside it); their
    record wakes the watch, and the next batch carries them without computing them again."""
    host = await stack.hosts.register(registration())
    first = await stack.hosts.assignments(host.uuid, 0, 0, full=True)
    computed: list[str] = []
    real = hostnetworks._compute

    async def slow(session: Any, row: Any) -> Any:
        computed.append(row.uuid)
        await asyncio.sleep(0.3)
        return await real(session, row)

    monkeypatch.setattr(hostnetworks, "_compute", slow)
    watch = asyncio.create_task(stack.hosts.assignments(host.uuid, first.revision, 10))
    await asyncio.sleep(0.05)
    row = await stack.containers.create(ADMIN, spec("netted"), run=True, legacy_command=False)
    batch = await asyncio.wait_for(watch, 5)
    [assignment] = batch.containers
    assert assignment.uuid == row.uuid
    [port] = assignment.ports
    assert batch.networks is None  # not waited for
    assert computed == []  # nor begun: the agent takes the batch first, then asks again
    following = await asyncio.wait_for(stack.hosts.assignments(host.uuid, batch.revision, 10), 5)
    assert following.containers == []
    assert following.networks is not None
    assert [n.uuid for n in following.networks.networks] == [port.network_id]
    assert computed == [host.uuid]  # the batch's own computation, sent as it was


async def test_report_of_running_container_is_recorded_and_acknowledges(stack: Stack) -> None:
    host = await stack.hosts.register(registration())
    row = await stack.containers.create(ADMIN, spec("rep"), run=True, legacy_command=False)
    await stack.placed(ADMIN, row)
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
    await stack.placed(ADMIN, row)
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
    await stack.placed(ADMIN, row)
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
