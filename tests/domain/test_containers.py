"""The container state machine and Zun's allowed-state table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.domain.containers import Action, Status, check_allowed, shown_status, status_detail
from dockyard.errors import InvalidStateException

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "status"),
    [
        (Action.STOP, Status.STOPPED),
        (Action.START, Status.RUNNING),
        (Action.UNPAUSE, Status.RUNNING),
        (Action.PAUSE, Status.PAUSED),
        (Action.DELETE, Status.RUNNING),
        (Action.DELETE_FORCE, Status.PAUSED),
        (Action.EXECUTE, Status.STOPPED),
    ],
)
def test_action_in_wrong_state_is_invalid_state(action: Action, status: Status) -> None:
    with pytest.raises(InvalidStateException, match=f"in {status.value} state"):
        check_allowed(action, status, "u1")


@pytest.mark.parametrize(
    ("action", "status"),
    [
        (Action.START, Status.CREATED),
        (Action.START, Status.ERROR),
        (Action.STOP, Status.RUNNING),
        (Action.DELETE_STOP, Status.RUNNING),
        (Action.DELETE_FORCE, Status.CREATING),
        (Action.REBOOT, Status.STOPPED),
        (Action.LOGS, Status.UNKNOWN),
        (Action.DELETE, Status.UNKNOWN),
        (Action.DELETE_STOP, Status.UNKNOWN),
    ],
)
def test_action_in_allowed_state_passes(action: Action, status: Status) -> None:
    check_allowed(action, status, "u1")


def test_status_detail_reads_like_docker_ps() -> None:
    started = NOW - timedelta(minutes=5)
    assert status_detail(Status.RUNNING, started, None, None, NOW) == "Up 5 minutes"
    assert status_detail(Status.PAUSED, started, None, None, NOW) == "Up 5 minutes (Paused)"
    finished = NOW - timedelta(hours=3)
    assert status_detail(Status.STOPPED, started, finished, 137, NOW) == "Exited(137) 3 hours ago"
    assert status_detail(Status.CREATED, None, None, None, NOW) == "Created"
    assert status_detail(Status.CREATING, None, None, None, NOW) is None


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (Status.RUNNING, Status.UNKNOWN),
        (Status.STOPPED, Status.UNKNOWN),
        (Status.CREATING, Status.CREATING),
        (Status.DELETING, Status.DELETING),
    ],
)
def test_silent_hosts_containers_show_unknown_unless_a_create_or_delete_is_pending(
    stored: Status, shown: Status
) -> None:
    assert shown_status(stored, host_down=True) is shown
    assert shown_status(stored, host_down=False) is stored
