"""Placement against the database: pure ranking, then an atomic claim on the chosen host."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from dockyard.db.engine import Session
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.tables import ContainerRow, HostRow, SandboxRow, utcnow
from dockyard.scheduler.filters import HostSnapshot, PlacementRequest, Ratios
from dockyard.scheduler.placement import candidates
from dockyard.scheduler.weighers import WEIGHERS
from dockyard.settings import SchedulerSettings


def is_host_up(host: HostRow, settings: SchedulerSettings, now: datetime | None = None) -> bool:
    """Heard from recently, and not forced down by an operator (Zun's service state)."""
    if host.forced_down:
        return False
    now = now or utcnow()
    return now - host.last_heartbeat_at <= timedelta(seconds=settings.host_down_after)


def snapshot(host: HostRow, settings: SchedulerSettings) -> HostSnapshot:
    return HostSnapshot(
        uuid=host.uuid,
        hostname=host.hostname,
        cpus=host.cpus,
        mem_total=host.mem_total,
        cpu_used=host.cpu_used,
        mem_used=host.mem_used,
        availability_zone=host.availability_zone,
        runtimes=tuple(host.runtimes),
        labels=dict(host.labels),
        is_up=is_host_up(host, settings),
        disabled=host.disabled,
    )


def request_of(row: ContainerRow) -> PlacementRequest:
    return PlacementRequest(
        cpu=row.cpu,
        memory=row.memory,
        availability_zone=row.availability_zone,
        runtime=row.runtime,
        hints=dict(row.hints or {}),
        requested_host=row.requested_host,
    )


async def place(
    session: Session,
    row: ContainerRow,
    settings: SchedulerSettings,
    sandbox: SandboxRow | None = None,
) -> str | None:
    """Claim room for row on the best host that has it; set host and revision. None: no host.

    A container joining a placed sandbox goes to the sandbox's host; a new sandbox is
    placed with its first container and charged on the same host. A claim lost to a
    concurrent scheduler falls through to the next candidate.
    """
    hosts = HostRepository(session)
    ratios = Ratios(cpu=settings.cpu_allocation_ratio, ram=settings.ram_allocation_ratio)
    seen_since = utcnow() - timedelta(seconds=settings.host_down_after)
    snapshots = [snapshot(h, settings) for h in await hosts.list_up(seen_since)]
    request = request_of(row)
    new_sandbox = sandbox is not None and sandbox.host_uuid is None
    if sandbox is not None and sandbox.host_uuid is not None:
        request = replace(request, requested_host=sandbox.host_uuid)
    extra_cpu = sandbox.cpu if sandbox is not None and new_sandbox else 0.0
    extra_memory = sandbox.memory if sandbox is not None and new_sandbox else 0
    request = replace(request, cpu=request.cpu + extra_cpu, memory=request.memory + extra_memory)
    weigher = WEIGHERS.get(settings.weigher, WEIGHERS["spread"])
    for host in candidates(snapshots, request, ratios, weigher=weigher):
        if await hosts.claim(
            host.uuid, request.cpu, request.memory, ratios.cpu_limit(host), ratios.mem_limit(host)
        ):
            row.host_uuid = host.uuid
            row.revision = await hosts.bump_revision(host.uuid)
            if sandbox is not None and new_sandbox:
                sandbox.host_uuid = host.uuid
                sandbox.revision = row.revision
            return host.uuid
    return None
