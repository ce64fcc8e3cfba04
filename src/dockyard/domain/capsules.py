"""Capsule rules that every layer shares: engine names of volumes, the capsule's status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.domain.containers import Status


def volume_engine_name(capsule_uuid: str, volume: str) -> str:
    """The engine volume behind a capsule volume: unique per capsule, readable by operators."""
    return f"dockyard-{capsule_uuid}-{volume}"


@dataclass(frozen=True)
class MemberState:
    name: str
    is_init: bool
    status: str
    exit_code: int | None
    status_reason: str | None = None


def capsule_status(deleting: bool, members: Sequence[MemberState]) -> tuple[Status, str | None]:
    """The capsule's status from its members': the first failure wins, then the slowest member.

    An init container that exited non-zero puts the capsule in Error with a reason that
    names it; the main containers then never start.
    """
    if deleting:
        return Status.DELETING, None
    for member in members:
        failed_init = member.is_init and member.status == Status.STOPPED.value and member.exit_code
        if failed_init:
            return (
                Status.ERROR,
                f"Init container {member.name} failed with exit code {member.exit_code}.",
            )
        if member.status == Status.ERROR.value:
            return Status.ERROR, f"Container {member.name}: {member.status_reason or 'failed'}"
    mains = [m for m in members if not m.is_init]
    if any(m.status == Status.CREATING.value for m in members):
        return Status.CREATING, None
    if mains and all(m.status == Status.RUNNING.value for m in mains):
        return Status.RUNNING, None
    if any(m.status == Status.RUNNING.value for m in members):
        return Status.CREATING, None  # init containers still running: the capsule is starting
    if mains and all(m.status in (Status.STOPPED.value, Status.DEAD.value) for m in mains):
        return Status.STOPPED, None
    if mains and all(m.status == Status.CREATED.value for m in mains):
        return Status.CREATED, None
    return Status.UNKNOWN, None
