"""A held container (runtime/hold.py) on the real engine: its command does not run until it
is released, then runs as the engine would have run it (its argv[0], PATH, the image's
entrypoint and command); a container that is not held is never signalled."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import docker
import pytest

from dockyard.runtime.hold import HOLD_PATH, catches, own_argv, release, unheld_entrypoint
from tests.support.runtime_bed import Bed, wait_for
from tests.support.testimage import SLEEP_FOREVER

# Prints its own argv as PID 1 sees it, then sleeps (trap: a quick stop).
SHOW = ["sh", "-c", "tr '\\0' ' ' </proc/1/cmdline; echo; " + SLEEP_FOREVER[2], "arg0"]


def _pid(bed: Bed, engine_id: str) -> int:
    pid = bed.runtime.netns_pid(engine_id)
    assert pid is not None
    return pid


def test_a_held_command_runs_only_once_released(docker_bed: Bed) -> None:
    engine_id = docker_bed.run(SHOW, hold=True, engine_network=False)
    pid = _pid(docker_bed, engine_id)
    time.sleep(1)
    assert docker_bed.runtime.logs(engine_id) == b""  # still held
    assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(HOLD_PATH.encode())
    assert release(pid)
    # The same process (the pid the agent plugged) now runs the command, as its argv[0].
    wait_for(lambda: docker_bed.runtime.logs(engine_id).startswith(b"sh -c "))
    assert docker_bed.runtime.netns_pid(engine_id) == pid
    assert not release(pid, patience=0.2)  # no longer held: left alone


def test_the_engine_shows_a_held_container_s_own_command(docker_bed: Bed) -> None:
    """The hold only goes in front of the entrypoint: the engine's command (what `docker
    inspect` shows) stays the one asked for, and the own entrypoint follows the hold."""
    engine_id = docker_bed.run(["-c", "exit 0"], entrypoint=["sh"], hold=True,
                               engine_network=False)  # fmt: skip
    engine = docker.from_env()
    try:
        config = engine.api.inspect_container(engine_id)["Config"]
    finally:
        engine.close()
    assert config["Cmd"] == ["-c", "exit 0"]
    assert config["Entrypoint"][0] == HOLD_PATH
    assert unheld_entrypoint(config["Entrypoint"]) == ["sh"]
    assert unheld_entrypoint(["sh", "-c"]) is None  # not a hold's


def test_a_held_command_is_found_on_path_and_merged_with_the_image(docker_bed: Bed) -> None:
    held = docker_bed.run(["hostname"], hold=True, engine_network=False, hostname="held-1")
    assert release(_pid(docker_bed, held))
    wait_for(lambda: docker_bed.runtime.logs(held) == b"held-1\n")
    missing = docker_bed.run(["no-such-command"], hold=True, engine_network=False)
    assert release(_pid(docker_bed, missing))
    wait_for(lambda: docker_bed.runtime.inspect(missing).exit_code == 127)
    assert b"executable file not found" in docker_bed.runtime.logs(missing)
    # No command given: the image's own (the test image's is `sh`, which ends at once
    # without input), once released and not before.
    inherited = docker_bed.run(None, hold=True, engine_network=False)
    time.sleep(0.5)
    assert docker_bed.runtime.inspect(inherited).state == "running"
    assert release(_pid(docker_bed, inherited))
    wait_for(lambda: docker_bed.runtime.inspect(inherited).state == "exited")
    assert docker_bed.runtime.inspect(inherited).exit_code == 0


def test_a_committed_held_container_runs_its_own_command(docker_bed: Bed) -> None:
    held = docker_bed.run(["sh", "-c", "echo from-image; sleep 60"], hold=True,
                          engine_network=False)  # fmt: skip
    repository = f"dockyard-test/held-commit-{docker_bed.host}"
    image = docker_bed.runtime.commit(held, repository, "1")
    try:
        again = docker_bed.run(None, image=f"{repository}:1")  # not held: no hold mounted
        wait_for(lambda: docker_bed.runtime.logs(again) == b"from-image\n")
    finally:
        docker_bed.cleanup()
        docker_bed.hosts.clear()
        docker_bed.runtime.remove_image(image.id)


def test_a_held_container_stops_at_once(docker_bed: Bed) -> None:
    held = docker_bed.run(SHOW, hold=True, engine_network=False)
    status = Path(f"/proc/{_pid(docker_bed, held)}/status")
    # Once the hold's shell is up (a stop in its first milliseconds waits for SIGKILL).
    wait_for(lambda: catches(status.read_text(), signal.SIGTERM))
    began = time.monotonic()
    docker_bed.runtime.stop(held, 20)
    assert time.monotonic() - began < 5  # not the 20 s the engine waits for SIGKILL
    assert docker_bed.runtime.logs(held) == b""  # its command never ran


def test_a_container_that_is_not_held_is_left_alone(docker_bed: Bed) -> None:
    engine_id = docker_bed.run(SLEEP_FOREVER)
    assert not release(_pid(docker_bed, engine_id), patience=0.2)
    assert docker_bed.runtime.inspect(engine_id).state == "running"


@pytest.mark.parametrize(
    ("entrypoint", "command", "image_entrypoint", "image_command", "argv"),
    [
        (None, None, ["/init"], ["serve"], ["/init", "serve"]),
        (None, ["run"], ["/init"], ["serve"], ["/init", "run"]),
        (["/mine"], None, ["/init"], ["serve"], ["/mine"]),  # the image's command is dropped
        (["/mine"], ["x"], None, ["serve"], ["/mine", "x"]),
        ([], None, ["/init"], ["serve"], ["serve"]),  # an empty entrypoint clears the image's
        (None, None, None, None, []),
    ],
)
def test_own_argv_merges_as_the_engine_does(
    entrypoint: list[str] | None,
    command: list[str] | None,
    image_entrypoint: list[str] | None,
    image_command: list[str] | None,
    argv: list[str],
) -> None:
    assert own_argv(entrypoint, command, image_entrypoint, image_command) == argv
