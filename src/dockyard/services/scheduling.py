"""Placement against the database: candidates from the replica's host index, then an atomic
claim on the chosen host in the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from dockyard.db.engine import Session
from dockyard.db.repositories.hosts import Claim, HostRepository
from dockyard.db.tables import ContainerRow, HostRow, SandboxRow, utcnow
from dockyard.domain.containers import Status
from dockyard.scheduler.filters import PlacementRequest
from dockyard.services.hostdirectory import HostDirectory
from dockyard.settings import SchedulerSettings

# Zun's status_reason for a container that no host can take.
NO_HOST_REASON = "There are not enough hosts available."


def is_host_up(host: HostRow, settings: SchedulerSettings, now: datetime | None = None) -> bool:
    """Heard from recently, and not forced down by an operator (Zun's service state)."""
    if host.forced_down:
        return False
    now = now or utcnow()
    return now - host.last_heartbeat_at <= timedelta(seconds=settings.host_down_after)


def request_of(row: ContainerRow) -> PlacementRequest:
    return PlacementRequest(
        cpu=row.cpu,
        memory=row.memory,
        disk=row.disk,
        availability_zone=row.availability_zone,
        runtime=row.runtime,
        hints=dict(row.hints or {}),
        requested_host=row.requested_host,
    )


def is_unplaceable(row: ContainerRow) -> bool:
    """Refused by every host at create: it holds no host claim and no quota."""
    return row.host_uuid is None and row.status == Status.ERROR.value


def mark_unplaceable(rows: Sequence[ContainerRow], sandbox: SandboxRow | None) -> None:
    """No host can take rows: they fail now, as in Zun, instead of waiting for one."""
    for row in rows:
        row.status = Status.ERROR.value
        row.status_reason = NO_HOST_REASON
        row.task_state = None
    if sandbox is not None and sandbox.host_uuid is None:
        sandbox.status = Status.ERROR.value
        sandbox.status_reason = NO_HOST_REASON


async def place(
    session: Session,
    rows: Sequence[ContainerRow],
    directory: HostDirectory,
    sandbox: SandboxRow | None = None,
) -> str | None:
    """Claim room for rows (one container, or a capsule's members) together on a good host
    that has it; set their host and revision. None: no host can take them all.

    Containers joining a placed sandbox go to the sandbox's host; a new sandbox is placed
    with its first containers and charged on the same host. A claim lost to another placer
    (here or in another replica) re-reads that host and tries the next candidate.
    """
    request = replace(
        request_of(rows[0]),
        cpu=sum(r.cpu for r in rows),
        memory=sum(r.memory for r in rows),
        disk=sum(r.disk for r in rows),
    )
    new_sandbox = sandbox is not None and sandbox.host_uuid is None
    if sandbox is not None and sandbox.host_uuid is not None:
        request = replace(request, requested_host=sandbox.host_uuid)
    if sandbox is not None and new_sandbox:
        request = replace(request, cpu=request.cpu + sandbox.cpu,
                          memory=request.memory + sandbox.memory)  # fmt: skip
    placed = await _claim_some_host(session, request, directory)
    if placed is None:
        return None
    for row in rows:
        row.host_uuid, row.revision = placed
    if sandbox is not None and new_sandbox:
        sandbox.host_uuid, sandbox.revision = placed
    return placed[0]


async def _claim_some_host(
    session: Session, request: PlacementRequest, directory: HostDirectory
) -> tuple[str, int] | None:
    """(host, revision) of the first candidate whose claim succeeds.

    A bounded number of lost claims, then one more try on a freshly re-read index; a
    request no host in the index can take also gets that second look, so a host that
    another replica registered a moment ago is not missed.
    """
    hosts = HostRepository(session)
    ratios = directory.ratios
    want = Claim(request.cpu, request.memory, request.disk,
                 ratios.cpu, ratios.ram, ratios.disk)  # fmt: skip
    for attempt in range(2):
        await directory.fresh(session, force=attempt > 0)
        seen_since = utcnow() - timedelta(seconds=directory.down_after)
        budget = 4 * directory.candidate_limit
        for round_ in directory.rounds(request):
            for host in round_:
                usage = await hosts.claim(host.uuid, want, seen_since)
                if usage is not None:
                    directory.claimed(host.uuid, usage)
                    return host.uuid, usage.revision
                directory.update(await hosts.state(host.uuid), host.uuid)
                budget -= 1
                if budget == 0:
                    break
            if budget == 0:
                break
    return None
