"""One contract for every ContainerRuntime: the real Docker engine and the fake must agree."""

from __future__ import annotations

import re
import threading
import time
import uuid as uuids
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dockyard import errors
from dockyard.runtime.base import ContainerRuntime, EngineEvent, PullProgress
from dockyard.runtime.labels import (
    LABEL_CONTAINER,
    LABEL_GENERATION,
    LABEL_HOST,
    LABEL_KIND,
    LABEL_PROJECT,
)
from dockyard.runtime.specs import Healthcheck, RestartPolicy
from tests.support.registry import Registry
from tests.support.runtime_bed import FAKE_REGISTRY, Bed, wait_for, wait_for_state
from tests.support.testimage import (
    SLEEP_FOREVER,
    TEST_IMAGE,
    push_test_image,
    remove_image,
)

MISSING_IMAGE = "dockyard-test/never-built:1"
MIB = 1024 * 1024


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Distribution registry on a free local port (Debian package docker-registry)."""
    running = Registry(tmp_path_factory.mktemp("registry")).start()
    try:
        yield running.address
    finally:
        running.stop()


@pytest.fixture
def refs(bed: Bed, request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(a ref the registry lacks, a ref it has); the pulled one is removed afterwards."""
    if bed.kind == "fake":
        yield f"{FAKE_REGISTRY}/nope:1", f"{FAKE_REGISTRY}/dockyard-test/busybox:1"
        return
    address = request.getfixturevalue("registry")
    pullable = push_test_image(address)
    yield f"{address}/nope:1", pullable
    remove_image(pullable)


# --- create, start, inspect, list, find ----------------------------------------------------


def test_create_makes_a_labelled_container_in_created_state(bed: Bed) -> None:
    spec = bed.spec(
        SLEEP_FOREVER,
        labels={"app": "web"},
        hostname="web-1",
        exposed_ports=[(80, "tcp"), (53, "udp")],
        project_id="p1",
        generation=4,
    )
    container = bed.runtime.inspect(bed.runtime.create(spec))
    assert container.state == "created"
    assert container.uuid == spec.uuid
    assert container.labels == {
        "app": "web",
        LABEL_CONTAINER: spec.uuid,
        LABEL_HOST: spec.host,
        LABEL_PROJECT: "p1",
        LABEL_GENERATION: "4",
        LABEL_KIND: "container",
    }
    assert container.ports == [53, 80]
    assert container.hostname == "web-1"
    assert container.started_at is None
    assert container.finished_at is None
    assert container.ip_addresses == []
    assert container.image_id


def test_create_twice_with_the_same_uuid_is_conflict(bed: Bed) -> None:
    spec = bed.spec(SLEEP_FOREVER)
    bed.runtime.create(spec)
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.create(spec)


def test_create_from_missing_image_raises_image_not_found(bed: Bed) -> None:
    with pytest.raises(errors.ImageNotFound):
        bed.runtime.create(bed.spec(SLEEP_FOREVER, image=MISSING_IMAGE))


def test_start_runs_the_container_with_an_address_and_utc_start_time(bed: Bed) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    engine_id = bed.run(SLEEP_FOREVER)
    container = bed.runtime.inspect(engine_id)
    assert container.state == "running"
    assert container.started_at is not None
    assert container.started_at.tzinfo == UTC
    assert container.started_at > before
    assert container.finished_at is None
    assert container.ip_addresses


def test_start_of_running_container_is_a_no_op(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.start(engine_id)
    assert bed.runtime.inspect(engine_id).state == "running"


def test_list_containers_returns_only_this_hosts_containers(bed: Bed) -> None:
    mine = bed.run(SLEEP_FOREVER, exposed_ports=[(8080, "tcp")])
    other = bed.runtime.create(bed.spec(SLEEP_FOREVER, host=bed.new_host()))
    listed = bed.runtime.list_containers(bed.hosts[0])
    assert [c.id for c in listed] == [mine]
    assert listed[0].state == "running"
    assert listed[0].uuid == bed.runtime.inspect(mine).uuid
    assert listed[0].labels[LABEL_HOST] == bed.hosts[0]
    assert listed[0].ports == [8080]  # the list endpoint shows ports of running ones only
    assert listed[0].ip_addresses
    assert [c.id for c in bed.runtime.list_containers(bed.hosts[1])] == [other]


def test_find_container_by_uuid(bed: Bed) -> None:
    spec = bed.spec(SLEEP_FOREVER)
    engine_id = bed.runtime.create(spec)
    found = bed.runtime.find_container(spec.uuid)
    assert found is not None
    assert found.id == engine_id
    assert bed.runtime.find_container(str(uuids.uuid4())) is None


def test_container_that_exits_reports_its_exit_code_and_finish_time(bed: Bed) -> None:
    engine_id = bed.run(["sh", "-c", "exit 3"])
    wait_for_state(bed.runtime, engine_id, "exited")
    container = bed.runtime.inspect(engine_id)
    assert container.exit_code == 3
    assert container.started_at is not None
    assert container.finished_at is not None
    # Not finished >= started: docker stamps StartedAt after the start hooks, so a container
    # that exits at once can show a FinishedAt a millisecond before its StartedAt.
    assert abs(container.finished_at - container.started_at) < timedelta(seconds=5)
    assert container.ip_addresses == []


def test_auto_remove_container_disappears_after_it_exits(bed: Bed) -> None:
    spec = bed.spec(["true"], auto_remove=True)
    bed.runtime.start(bed.runtime.create(spec))
    wait_for(lambda: bed.runtime.find_container(spec.uuid) is None)


def test_restart_policy_is_accepted(bed: Bed) -> None:
    policy = RestartPolicy(name="on-failure", maximum_retry_count=2)
    engine_id = bed.runtime.create(bed.spec(SLEEP_FOREVER, restart_policy=policy, cpu=0.5))
    assert bed.runtime.inspect(engine_id).state == "created"


def test_shell_waits_on_open_stdin_and_exits_on_closed_stdin(bed: Bed) -> None:
    waiting = bed.run(["sh"], interactive=True)
    done = bed.run(["sh"])
    wait_for_state(bed.runtime, done, "exited")
    assert bed.runtime.inspect(done).exit_code == 0
    assert bed.runtime.inspect(waiting).state == "running"


# --- stop, restart, pause, kill, remove ----------------------------------------------------


def test_stop_runs_the_term_trap_and_exits_zero(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    started = time.monotonic()
    bed.runtime.stop(engine_id, timeout=10)
    assert time.monotonic() - started < 5  # the trap answered; no SIGKILL after 10 s
    container = bed.runtime.inspect(engine_id)
    assert (container.state, container.exit_code) == ("exited", 0)


def test_stop_of_container_ignoring_term_kills_it_after_the_timeout(bed: Bed) -> None:
    engine_id = bed.run(["sh", "-c", "while :; do sleep 1; done"])
    bed.runtime.stop(engine_id, timeout=1)
    container = bed.runtime.inspect(engine_id)
    assert (container.state, container.exit_code) == ("exited", 137)


def test_stop_of_exited_container_is_a_no_op(bed: Bed) -> None:
    engine_id = bed.run(["sh", "-c", "exit 2"])
    wait_for_state(bed.runtime, engine_id, "exited")
    bed.runtime.stop(engine_id)
    assert bed.runtime.inspect(engine_id).exit_code == 2


def test_restart_runs_an_exited_container_again(bed: Bed) -> None:
    engine_id = bed.run(["sh", "-c", "echo hi"])
    wait_for(lambda: bed.runtime.logs(engine_id) == b"hi\n")
    wait_for_state(bed.runtime, engine_id, "exited")
    bed.runtime.restart(engine_id, timeout=1)
    wait_for(lambda: bed.runtime.logs(engine_id) == b"hi\nhi\n")


def test_restart_of_running_container_starts_it_anew(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    first = bed.runtime.inspect(engine_id).started_at
    bed.runtime.restart(engine_id, timeout=5)
    container = bed.runtime.inspect(engine_id)
    assert container.state == "running"
    assert first is not None
    assert container.started_at is not None
    assert container.started_at > first


def test_pause_and_unpause(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.pause(engine_id)
    assert bed.runtime.inspect(engine_id).state == "paused"
    bed.runtime.unpause(engine_id)
    assert bed.runtime.inspect(engine_id).state == "running"


def test_pause_of_paused_container_is_conflict(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.pause(engine_id)
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.pause(engine_id)


def test_pause_of_created_container_is_conflict(bed: Bed) -> None:
    engine_id = bed.runtime.create(bed.spec(SLEEP_FOREVER))
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.pause(engine_id)


def test_start_of_paused_container_is_conflict(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.pause(engine_id)
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.start(engine_id)


def test_unpause_of_running_container_is_an_engine_failure_not_a_conflict(bed: Bed) -> None:
    # Docker 20.10 answers 500 "is not paused" here (not 409); the fake must say the same.
    engine_id = bed.run(SLEEP_FOREVER)
    with pytest.raises(errors.RuntimeFailure):
        bed.runtime.unpause(engine_id)


def test_stop_of_paused_container_exits_it(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.pause(engine_id)
    bed.runtime.stop(engine_id, timeout=5)
    container = bed.runtime.inspect(engine_id)
    assert (container.state, container.exit_code) == ("exited", 0)


def test_kill_without_signal_sends_sigkill(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.kill(engine_id)
    wait_for_state(bed.runtime, engine_id, "exited")
    assert bed.runtime.inspect(engine_id).exit_code == 137


@pytest.mark.parametrize("signal", ["TERM", "SIGTERM", "sigterm", "15"])
def test_kill_with_a_trapped_signal_runs_the_trap(bed: Bed, signal: str) -> None:
    engine_id = bed.run(["sh", "-c", "trap 'exit 5' TERM; while :; do sleep 1 & wait $!; done"])
    time.sleep(0.2)  # let sh install the trap before the signal arrives
    bed.runtime.kill(engine_id, signal)
    wait_for_state(bed.runtime, engine_id, "exited")
    assert bed.runtime.inspect(engine_id).exit_code == 5


def test_kill_with_an_untrapped_signal_is_ignored_by_pid_1(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.kill(engine_id, "SIGUSR1")
    time.sleep(0.3)
    assert bed.runtime.inspect(engine_id).state == "running"


def test_kill_with_unknown_signal_is_invalid(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    with pytest.raises(errors.InvalidValue):
        bed.runtime.kill(engine_id, "SIGNOPE")


def test_kill_of_exited_container_is_conflict(bed: Bed) -> None:
    engine_id = bed.run(["true"])
    wait_for_state(bed.runtime, engine_id, "exited")
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.kill(engine_id, "SIGKILL")


def test_remove_removes_a_running_container_and_is_idempotent(bed: Bed) -> None:
    spec = bed.spec(SLEEP_FOREVER)
    engine_id = bed.runtime.create(spec)
    bed.runtime.start(engine_id)
    bed.runtime.remove(engine_id)
    assert bed.runtime.find_container(spec.uuid) is None
    with pytest.raises(errors.RuntimeNotFound):
        bed.runtime.inspect(engine_id)
    bed.runtime.remove(engine_id)


MISSING_ID_CALLS: dict[str, Callable[[ContainerRuntime, str], object]] = {
    "inspect": lambda r, i: r.inspect(i),
    "start": lambda r, i: r.start(i),
    "stop": lambda r, i: r.stop(i),
    "restart": lambda r, i: r.restart(i),
    "pause": lambda r, i: r.pause(i),
    "unpause": lambda r, i: r.unpause(i),
    "kill": lambda r, i: r.kill(i),
    "update_resources": lambda r, i: r.update_resources(i, 1.0, 64),
    "logs": lambda r, i: r.logs(i),
    "exec": lambda r, i: r.exec(i, ["true"], 5),
    "top": lambda r, i: r.top(i),
    "stats": lambda r, i: r.stats(i),
}


@pytest.mark.parametrize("call", MISSING_ID_CALLS.values(), ids=MISSING_ID_CALLS.keys())
def test_missing_container_raises_runtime_not_found(
    bed: Bed, call: Callable[[ContainerRuntime, str], object]
) -> None:
    with pytest.raises(errors.RuntimeNotFound):
        call(bed.runtime, "0" * 64)


# --- logs, exec, top, stats, resources -----------------------------------------------------


def test_logs_keep_stdout_and_stderr_apart(bed: Bed) -> None:
    engine_id = bed.run(["sh", "-c", "echo out; echo err >&2"])
    wait_for_state(bed.runtime, engine_id, "exited")
    assert bed.runtime.logs(engine_id, stderr=False) == b"out\n"
    assert bed.runtime.logs(engine_id, stdout=False) == b"err\n"
    assert sorted(bed.runtime.logs(engine_id).splitlines()) == [b"err", b"out"]


def test_logs_tail_returns_the_last_lines(bed: Bed) -> None:
    engine_id = bed.run(["sh", "-c", "echo 1; echo 2; echo 3"])
    wait_for_state(bed.runtime, engine_id, "exited")
    assert bed.runtime.logs(engine_id, tail=2) == b"2\n3\n"
    assert bed.runtime.logs(engine_id, tail=0) == b""


def test_logs_with_timestamps_and_since(bed: Bed) -> None:
    engine_id = bed.run(["echo", "hello"])
    wait_for_state(bed.runtime, engine_id, "exited")
    stamped = bed.runtime.logs(engine_id, timestamps=True)
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z hello\n", stamped)
    past, future = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    assert bed.runtime.logs(engine_id, since=past) == b"hello\n"
    assert bed.runtime.logs(engine_id, since=future) == b""


def test_exec_returns_output_and_exit_code(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    result = bed.runtime.exec(engine_id, ["sh", "-c", "echo hi; echo oops >&2; exit 7"], 10)
    assert sorted(result.output.splitlines()) == [b"hi", b"oops"]
    assert result.exit_code == 7


def test_exec_that_outlives_its_timeout_raises_exec_timeout(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    started = time.monotonic()
    with pytest.raises(errors.ExecTimeout):
        bed.runtime.exec(engine_id, ["sleep", "30"], 0.5)
    assert time.monotonic() - started < 5


def test_exec_in_created_container_is_conflict(bed: Bed) -> None:
    engine_id = bed.runtime.create(bed.spec(SLEEP_FOREVER))
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.exec(engine_id, ["true"], 5)


def test_exec_in_paused_container_is_conflict(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.pause(engine_id)
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.exec(engine_id, ["true"], 5)


def test_top_lists_the_containers_processes(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    top = bed.runtime.top(engine_id)
    assert {"PID", "CMD"} <= set(top.titles)
    command = top.titles.index("CMD")

    def shows_the_command() -> bool:
        rows = bed.runtime.top(engine_id).processes
        return any(row[command].startswith("sh -c") for row in rows)

    # The engine's start returns once runc has told its init to exec the command; for a
    # moment after (longer under load) ps may still see `runc init` in its place.
    wait_for(shows_the_command, timeout=10)


def test_top_of_created_container_is_conflict(bed: Bed) -> None:
    engine_id = bed.runtime.create(bed.spec(SLEEP_FOREVER))
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.top(engine_id)


def test_stats_sample_has_the_docker_stats_keys(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER, memory_mib=48)
    sample = bed.runtime.stats(engine_id)
    assert {"read", "cpu_stats", "precpu_stats", "memory_stats", "pids_stats"} <= set(sample)
    memory = sample["memory_stats"]
    assert isinstance(memory, dict)
    assert memory["limit"] == 48 * MIB


def test_update_resources_changes_the_limits_in_place(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER, memory_mib=32, cpu=1.0)
    bed.runtime.update_resources(engine_id, cpu=0.5, memory_mib=64)
    memory = bed.runtime.stats(engine_id)["memory_stats"]
    assert isinstance(memory, dict)
    assert memory["limit"] == 64 * MIB
    assert bed.runtime.inspect(engine_id).state == "running"


# --- images --------------------------------------------------------------------------------


def test_has_image_is_true_only_for_present_images(bed: Bed) -> None:
    assert bed.runtime.has_image(TEST_IMAGE)
    assert not bed.runtime.has_image(MISSING_IMAGE)


def test_pull_of_image_the_registry_lacks_raises_image_not_found(
    bed: Bed, refs: tuple[str, str]
) -> None:
    missing, _ = refs
    started = time.monotonic()
    with pytest.raises(errors.ImageNotFound):
        bed.runtime.pull_image(missing)
    assert time.monotonic() - started < 5
    assert not bed.runtime.has_image(missing)


def test_pull_makes_the_image_available(bed: Bed, refs: tuple[str, str]) -> None:
    _, pullable = refs
    assert not bed.runtime.has_image(pullable)
    bed.runtime.pull_image(pullable)
    assert bed.runtime.has_image(pullable)
    engine_id = bed.run(["echo", "pulled"], image=pullable)
    wait_for(lambda: bed.runtime.logs(engine_id) == b"pulled\n")


def test_pull_tells_progress_and_image_info_and_remove_image_agree(
    bed: Bed, refs: tuple[str, str]
) -> None:
    _, pullable = refs
    steps: list[PullProgress] = []
    bed.runtime.pull_image(pullable, progress=steps.append)
    assert steps
    assert all(step.layer and step.status for step in steps)
    assert all(0 <= step.current <= max(step.total, step.current) for step in steps)
    info = bed.runtime.image_info(pullable)
    assert info is not None
    assert info.id.startswith("sha256:")
    assert pullable in info.tags
    bed.runtime.remove_image(pullable)
    assert bed.runtime.image_info(pullable) is None
    assert not bed.runtime.has_image(pullable)
    with pytest.raises(errors.RuntimeNotFound):
        bed.runtime.remove_image(pullable)


# --- host and events -----------------------------------------------------------------------


def test_host_info_describes_the_host(bed: Bed) -> None:
    info = bed.runtime.host_info()
    assert info.cpus > 0
    assert info.mem_total_mib > 0
    assert info.os_type == "linux"
    assert "runc" in info.runtimes
    assert info.hostname
    assert info.engine_version


def test_events_report_start_and_die_of_this_hosts_containers(bed: Bed) -> None:
    host, other_host = bed.new_host(), bed.new_host()
    stop = threading.Event()
    seen: list[EngineEvent] = []
    stream = bed.runtime.events(host, stop)  # subscribed from here on
    consumer = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
    consumer.start()
    try:
        other = bed.spec(["true"], host=other_host)
        bed.runtime.start(bed.runtime.create(other))
        spec = bed.spec(["sh", "-c", "exit 1"], host=host)
        bed.runtime.start(bed.runtime.create(spec))
        wait_for(lambda: EngineEvent(spec.uuid, "die") in seen)
    finally:
        stop.set()
    consumer.join(timeout=2.5)
    assert not consumer.is_alive(), "events did not stop promptly"
    actions = [event.action for event in seen if event.uuid == spec.uuid]
    assert actions.index("start") < actions.index("die")
    assert all(event.uuid != other.uuid for event in seen)


def test_events_end_promptly_when_stopped_while_idle(bed: Bed) -> None:
    stop = threading.Event()
    stream = bed.runtime.events(bed.new_host(), stop)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert list(stream) == []
    assert time.monotonic() - started < 2.5


# --- docker only: RunSpec options the fake does not model ---------------------------------


def test_run_options_reach_the_docker_engine(docker_bed: Bed) -> None:
    # Not privileged=True: this test bed's runc may not apply all capabilities.
    host = docker_bed.new_host()
    stop = threading.Event()
    events = docker_bed.runtime.events(host, stop)
    engine_id = docker_bed.run(
        ["echo $GREETING $(pwd) $(hostname) $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); sleep 30"],
        entrypoint=["sh", "-c"],
        environment={"GREETING": "hello"},
        workdir="/tmp",
        hostname="box",
        cpu=0.5,
        tty=True,
        runtime="runc",
        healthcheck=Healthcheck(test="true", interval=1, timeout=1, retries=1),
    )
    try:
        wait_for(lambda: docker_bed.runtime.logs(engine_id) == b"hello /tmp box 50000\r\n")
        for event in events:  # the healthcheck ran
            if event.action.startswith("health_status"):
                assert event.action == "health_status: healthy"
                break
    finally:
        stop.set()
