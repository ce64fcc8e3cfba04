"""The container state machine: Zun's statuses, task states and which action is allowed when."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from dockyard.errors import InvalidStateException


class Status(StrEnum):
    CREATING = "Creating"
    CREATED = "Created"
    RUNNING = "Running"
    STOPPED = "Stopped"
    PAUSED = "Paused"
    RESTARTING = "Restarting"
    REBUILDING = "Rebuilding"
    DELETING = "Deleting"
    DELETED = "Deleted"
    DEAD = "Dead"
    ERROR = "Error"
    UNKNOWN = "Unknown"


class TaskState(StrEnum):
    IMAGE_PULLING = "image_pulling"
    CREATING = "container_creating"
    STARTING = "container_starting"
    DELETING = "container_deleting"
    STOPPING = "container_stopping"
    REBOOTING = "container_rebooting"
    PAUSING = "container_pausing"
    UNPAUSING = "container_unpausing"
    KILLING = "container_killing"
    REBUILDING = "container_rebuilding"


class DesiredState(StrEnum):
    """What the user last asked for; the agent converges the engine towards it."""

    CREATED = "created"
    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    DELETED = "deleted"


class Action(StrEnum):
    START = "start"
    STOP = "stop"
    REBOOT = "reboot"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    KILL = "kill"
    EXECUTE = "execute"
    TOP = "top"
    STATS = "stats"
    LOGS = "logs"
    UPDATE = "update"
    DELETE = "delete"
    DELETE_STOP = "delete_stop"
    DELETE_FORCE = "delete_force"
    GET_ARCHIVE = "get_archive"
    PUT_ARCHIVE = "put_archive"
    COMMIT = "commit"
    REBUILD = "rebuild"


S = Status
_RUNNING_ONLY = frozenset({S.RUNNING})

# Zun's VALID_STATES table (zun/common/consts + compute api): the statuses in which each
# action may be asked for; anything else is a 409.
ALLOWED_STATUSES: dict[Action, frozenset[Status]] = {
    Action.START: frozenset({S.CREATED, S.STOPPED, S.ERROR}),
    Action.STOP: _RUNNING_ONLY,
    Action.PAUSE: _RUNNING_ONLY,
    Action.KILL: _RUNNING_ONLY,
    Action.EXECUTE: _RUNNING_ONLY,
    Action.TOP: _RUNNING_ONLY,
    Action.STATS: _RUNNING_ONLY,
    Action.UNPAUSE: frozenset({S.PAUSED}),
    Action.REBOOT: frozenset({S.CREATED, S.RUNNING, S.STOPPED, S.ERROR}),
    Action.UPDATE: frozenset({S.CREATED, S.RUNNING, S.STOPPED, S.PAUSED}),
    Action.LOGS: frozenset({S.CREATED, S.ERROR, S.PAUSED, S.RUNNING, S.STOPPED, S.UNKNOWN}),
    # Unknown (its host is down) is deletable here, unlike in Zun, which answers 500 for it:
    # the delete is recorded and finished when the host returns or is removed.
    Action.DELETE: frozenset({S.CREATED, S.ERROR, S.STOPPED, S.DELETED, S.DEAD, S.UNKNOWN}),
    Action.DELETE_STOP: frozenset(
        {S.RUNNING, S.CREATED, S.ERROR, S.STOPPED, S.DELETED, S.DEAD, S.UNKNOWN}
    ),
    Action.DELETE_FORCE: frozenset(set(Status) - {S.PAUSED}),
    Action.GET_ARCHIVE: frozenset({S.CREATED, S.PAUSED, S.RUNNING, S.STOPPED}),
    Action.PUT_ARCHIVE: frozenset({S.CREATED, S.PAUSED, S.RUNNING, S.STOPPED}),
    Action.COMMIT: frozenset({S.RUNNING, S.STOPPED, S.PAUSED}),
    Action.REBUILD: frozenset({S.CREATED, S.RUNNING, S.STOPPED, S.ERROR}),
}


def shown_status(status: Status, host_down: bool) -> Status:
    """The status users see: Unknown while the host is silent, unless a create or delete
    is still pending (those say what will happen when the host answers again)."""
    if host_down and status not in (Status.CREATING, Status.DELETING):
        return Status.UNKNOWN
    return status


def check_allowed(action: Action, status: Status, uuid: str) -> None:
    """Raise InvalidStateException (409) unless `action` is allowed in `status`."""
    if status not in ALLOWED_STATUSES[action]:
        # delete_stop is a delete; get_archive and put_archive keep their names, as in Zun
        verb = action.value if action.value.endswith("_archive") else action.value.split("_")[0]
        text = InvalidStateException.message.format(action=verb, uuid=uuid, status=status.value)
        if action is Action.DELETE and status in ALLOWED_STATUSES[Action.DELETE_STOP]:
            # Say what works instead, in the words of every client (stop=True is `--stop`).
            text += " Stop it first, or delete it with --stop (or --force)."
        raise InvalidStateException(text)


def _ago(seconds: float) -> str:
    """Docker-style coarse duration ("5 seconds", "3 minutes", "2 hours")."""
    units = (("day", 86400), ("hour", 3600), ("minute", 60))
    for name, size in units:
        if seconds >= 2 * size:
            return f"{int(seconds // size)} {name}s"
    if seconds >= 60:
        return "About a minute"
    if seconds < 1:
        return "Less than a second"
    return "1 second" if int(seconds) == 1 else f"{int(seconds)} seconds"


def status_detail(
    status: Status,
    started_at: datetime | None,
    finished_at: datetime | None,
    exit_code: int | None,
    now: datetime,
) -> str | None:
    """The human line Zun shows next to the status, in docker ps words ("Up 5 minutes")."""
    if status in (Status.RUNNING, Status.PAUSED) and started_at:
        paused = " (Paused)" if status is Status.PAUSED else ""
        return f"Up {_ago((now - started_at).total_seconds())}{paused}"
    if status is Status.STOPPED and finished_at:
        ago = _ago((now - finished_at).total_seconds())
        return f"Exited({exit_code if exit_code is not None else 0}) {ago} ago"
    if status is Status.CREATED:
        return "Created"
    return None
