"""A capsule's status from its members' (pure)."""

from __future__ import annotations

import pytest

from dockyard.domain.capsules import MemberState, capsule_status, member_container_name
from dockyard.domain.containers import Status


def init(status: str, exit_code: int | None = None, name: str = "init") -> MemberState:
    return MemberState(name, True, status, exit_code)


def main(status: str, name: str = "main", reason: str | None = None) -> MemberState:
    return MemberState(name, False, status, None, reason)


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ([init("Creating"), main("Creating")], Status.CREATING),
        ([init("Running"), main("Created")], Status.CREATING),
        ([init("Stopped", 0), init("Created", name="second"), main("Created")], Status.CREATING),
        # between the last init container's exit and the main containers' start
        ([init("Stopped", 0), main("Created")], Status.CREATING),
        ([init("Stopped", 0), main("Running"), main("Created", "side")], Status.CREATING),
        ([init("Stopped", 0), main("Running"), main("Running", "side")], Status.RUNNING),
        ([main("Running")], Status.RUNNING),
    ],
)
def test_capsule_is_creating_until_every_main_container_has_started(
    members: list[MemberState], expected: Status
) -> None:
    assert capsule_status(False, members) == (expected, None)


@pytest.mark.parametrize(
    "other",
    ["Stopped", "Restarting", "Paused", "Dead"],
)
def test_capsule_with_one_main_container_running_is_running_whatever_the_others_do(
    other: str,
) -> None:
    members = [init("Stopped", 0), main("Running"), main(other, "side")]
    assert capsule_status(False, members) == (Status.RUNNING, None)


@pytest.mark.parametrize(
    ("mains", "expected"),
    [
        (["Stopped", "Dead"], Status.STOPPED),
        (["Restarting", "Stopped"], Status.RESTARTING),
        (["Paused", "Paused"], Status.PAUSED),
        (["Paused", "Stopped"], Status.UNKNOWN),
        ([], Status.UNKNOWN),
    ],
)
def test_capsule_without_a_running_main_container_says_what_they_do(
    mains: list[str], expected: Status
) -> None:
    members = [main(status, f"m{i}") for i, status in enumerate(mains)]
    assert capsule_status(False, members) == (expected, None)


def test_failed_init_container_is_an_error_that_names_it() -> None:
    members = [init("Stopped", 0, "first"), init("Stopped", 3, "second"), main("Created")]
    assert capsule_status(False, members) == (
        Status.ERROR,
        "Init container second failed with exit code 3.",
    )


def test_member_in_error_is_the_capsules_error_with_its_reason() -> None:
    members = [main("Running"), main("Error", "side", reason="image not found")]
    assert capsule_status(False, members) == (Status.ERROR, "Container side: image not found")


def test_deleting_capsule_is_deleting_whatever_its_members_do() -> None:
    assert capsule_status(True, [init("Stopped", 3), main("Error")]) == (Status.DELETING, None)


def test_member_container_name_is_zuns_capsule_prefix_shape() -> None:
    assert member_container_name("web", "nginx") == "capsule-web-nginx"
