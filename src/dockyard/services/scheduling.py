"""Scheduling facts shared by the services: host liveness, a container's request, Zun's
reason for a container no host can take (the placing itself: services/batchscheduler.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from dockyard.db.tables import ContainerRow, HostRow, utcnow
from dockyard.domain.containers import Status
from dockyard.scheduler.filters import PlacementRequest
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
    spec = row.spec
    return PlacementRequest(
        cpu=spec.cpu,
        memory=spec.memory,
        disk=spec.disk,
        availability_zone=spec.availability_zone,
        runtime=spec.runtime,
        hints=dict(spec.hints),
        requested_host=spec.requested_host,
        volume_host=spec.volume_host,
    )


def is_unplaceable(row: ContainerRow) -> bool:
    """Refused by every host (the scheduler gave its quota back): it holds no host claim and
    no quota. A container whose host was removed is Error without a host too, but it still
    holds its quota until it is deleted."""
    return (
        row.host_uuid is None
        and row.status == Status.ERROR.value
        and row.status_reason == NO_HOST_REASON
    )
