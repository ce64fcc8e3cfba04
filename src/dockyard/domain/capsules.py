"""Capsule rules that every layer shares: names of members and volumes, the capsule's status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.domain.containers import Status


def volume_engine_name(capsule_uuid: str, volume: str) -> str:
    """The engine volume behind a capsule volume: unique per capsule, readable by operators."""
    return f"dockyard-{capsule_uuid}-{volume}"


# Container names are stored in VARCHAR(255) columns, as Zun's are.
MAX_CONTAINER_NAME = 255


def member_container_name(capsule_name: str, member_name: str) -> str:
    """The name of a capsule member's container: Zun's `capsule-<capsule>-<member>` shape."""
    return f"capsule-{capsule_name}-{member_name}"


@dataclass(frozen=True)
class MemberState:
    name: str
    is_init: bool
    status: str
    exit_code: int | None
    status_reason: str | None = None


def capsule_status(deleting: bool, members: Sequence[MemberState]) -> tuple[Status, str | None]:
    """The capsule's status from its members': the first failure wins, then the phase.

    An init container that exited non-zero puts the capsule in Error with a reason that
    names it; the main containers then never start.
    """
    if deleting:
        return Status.DELETING, None
    failure = _failure(members)
    if failure is not None:
        return Status.ERROR, failure
    inits = [m.status for m in members if m.is_init]
    mains = [m.status for m in members if not m.is_init]
    return _phase(inits, mains), None


def _failure(members: Sequence[MemberState]) -> str | None:
    for member in members:
        if member.is_init and member.status == Status.STOPPED.value and member.exit_code:
            return f"Init container {member.name} failed with exit code {member.exit_code}."
        if member.status == Status.ERROR.value:
            return f"Container {member.name}: {member.status_reason or 'failed'}"
    return None


_STARTING = frozenset({Status.CREATING.value, Status.CREATED.value})


def _phase(inits: Sequence[str], mains: Sequence[str]) -> Status:
    """Creating until every main container has started once (init containers first); then
    Running while any main container runs, as a Kubernetes pod is, whatever the others do."""
    if not mains:  # a template has one at least: they were deleted through /v1/containers
        return Status.UNKNOWN
    init_pending = _STARTING | {Status.RUNNING.value, Status.RESTARTING.value}
    if any(s in init_pending for s in inits) or any(s in _STARTING for s in mains):
        return Status.CREATING
    if Status.RUNNING.value in mains:
        return Status.RUNNING
    if Status.RESTARTING.value in mains:
        return Status.RESTARTING
    if all(s == Status.PAUSED.value for s in mains):
        return Status.PAUSED
    if all(s in (Status.STOPPED.value, Status.DEAD.value) for s in mains):
        return Status.STOPPED
    return Status.UNKNOWN
