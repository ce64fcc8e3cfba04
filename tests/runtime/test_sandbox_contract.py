"""The sandbox contract (infra containers, joined containers, pools, volumes, wait), run
against both the real Docker engine and the fake, like test_contract.py."""

from __future__ import annotations

import base64
import threading
import time
import uuid as uuids
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dockyard import errors
from dockyard.runtime.labels import (
    LABEL_CAPSULE,
    LABEL_HOST,
    LABEL_KIND,
    LABEL_POOL,
    LABEL_PROJECT,
    LABEL_SANDBOX,
)
from dockyard.runtime.pause import PAUSE_IMAGE, pause_rootfs_tar
from dockyard.runtime.specs import InjectedFile, SandboxSpec, VolumeMount
from tests.support.runtime_bed import Bed, wait_for, wait_for_state
from tests.support.testimage import SLEEP_FOREVER

# --- the sandbox and the containers joined to it -------------------------------------------


def test_sandbox_runs_with_an_address_and_its_hostname(bed: Bed) -> None:
    uuid = str(uuids.uuid4())
    engine_id = bed.sandbox(uuid=uuid, hostname="capsule-1", project_id="p1")
    sandbox = bed.runtime.inspect_sandbox(engine_id)
    assert (sandbox.uuid, sandbox.pooled, sandbox.state) == (uuid, False, "running")
    assert sandbox.ip_addresses
    assert sandbox.hostname == "capsule-1"
    assert sandbox.started_at is not None
    labels = bed.runtime.inspect(engine_id).labels
    assert labels[LABEL_KIND] == "sandbox"
    assert labels[LABEL_SANDBOX] == uuid
    assert labels[LABEL_HOST] == bed.host
    assert labels[LABEL_PROJECT] == "p1"


def test_joined_container_shares_the_sandboxs_address_and_hostname(bed: Bed) -> None:
    sandbox_id = bed.sandbox(hostname="capsule-1")
    # The engine refuses a hostname and exposed ports on a joining container: both dropped.
    first = bed.join(sandbox_id, hostname="ignored", exposed_ports=[(80, "tcp")])
    second = bed.join(sandbox_id)
    address = bed.runtime.inspect_sandbox(sandbox_id).ip_addresses
    for engine_id in (first, second):
        container = bed.runtime.inspect(engine_id)
        assert container.ip_addresses == address
        assert (container.hostname, container.ports) == ("capsule-1", [])
        assert container.sandbox_id == sandbox_id
        assert bed.runtime.exec(engine_id, ["hostname"], 10).output == b"capsule-1\n"
    listed = {c.id: c.ip_addresses for c in bed.runtime.list_containers(bed.host)}
    assert listed == {first: address, second: address}
    if bed.kind == "docker":  # one network namespace, not a copy of its address
        show = ["cat", "/proc/net/fib_trie"]
        tries = {bed.runtime.exec(i, show, 10).output for i in (first, second)}
        assert len(tries) == 1
        assert address[0].encode() in tries.pop()


def test_shm_is_shared_by_the_containers_of_a_sandbox_only(bed: Bed) -> None:
    sandbox_id = bed.sandbox()
    writer, reader = bed.join(sandbox_id), bed.join(sandbox_id)
    outsider = bed.run(SLEEP_FOREVER)
    written = bed.runtime.exec(writer, ["sh", "-c", "echo shared > /dev/shm/token"], 10)
    assert written.exit_code == 0
    assert bed.runtime.exec(reader, ["cat", "/dev/shm/token"], 10).output == b"shared\n"
    assert bed.runtime.exec(outsider, ["cat", "/dev/shm/token"], 10).exit_code == 1


def test_list_and_find_container_leave_sandboxes_out(bed: Bed) -> None:
    sandbox_id = bed.sandbox()
    pool_id = bed.runtime.create_sandbox(SandboxSpec(uuid=None, host=bed.host, pool=True))
    joined = bed.join(sandbox_id)
    assert [c.id for c in bed.runtime.list_containers(bed.host)] == [joined]
    assert {s.id for s in bed.runtime.list_sandboxes(bed.host)} == {sandbox_id, pool_id}


def test_container_labels_record_kind_sandbox_and_capsule(bed: Bed) -> None:
    sandbox_uuid, capsule_uuid = str(uuids.uuid4()), str(uuids.uuid4())
    sandbox_id = bed.sandbox(uuid=sandbox_uuid)
    spec = bed.spec(
        ["true"],
        sandbox_engine_id=sandbox_id,
        kind="init",
        sandbox_uuid=sandbox_uuid,
        capsule_uuid=capsule_uuid,
    )
    container = bed.runtime.inspect(bed.runtime.create(spec))
    assert container.kind == "init"
    assert container.labels[LABEL_SANDBOX] == sandbox_uuid
    assert container.labels[LABEL_CAPSULE] == capsule_uuid
    plain = bed.runtime.inspect(bed.runtime.create(bed.spec(["true"])))
    assert plain.kind == "container"
    assert LABEL_SANDBOX not in plain.labels


def test_create_sandbox_twice_for_one_uuid_is_conflict(bed: Bed) -> None:
    uuid = str(uuids.uuid4())
    bed.sandbox(uuid=uuid)
    with pytest.raises(errors.RuntimeConflict):
        bed.sandbox(uuid=uuid)


@pytest.mark.parametrize(
    "spec",
    [
        SandboxSpec(uuid=None, host="h"),
        SandboxSpec(uuid="u", host="h", pool=True),
        SandboxSpec(uuid=None, host="h", pool=True, project_id="p1"),
        SandboxSpec(uuid="u", host="h", hostname="x" * 65),
    ],
    ids=["no-uuid", "pool-with-uuid", "pool-with-project", "long-hostname"],
)
def test_invalid_sandbox_spec_is_refused_before_the_engine(bed: Bed, spec: SandboxSpec) -> None:
    with pytest.raises(errors.InvalidValue):
        bed.runtime.create_sandbox(spec)


def test_share_pid_without_a_sandbox_is_invalid(bed: Bed) -> None:
    with pytest.raises(errors.InvalidValue):
        bed.runtime.create(bed.spec(SLEEP_FOREVER, share_pid=True))


# --- what happens to joined containers when their sandbox stops, restarts, goes ----------


def test_stopping_a_sandbox_kills_pid_sharers_and_strands_the_others(bed: Bed) -> None:
    sandbox_id = bed.sandbox()
    sharer = bed.join(sandbox_id, share_pid=True)
    other = bed.join(sandbox_id)
    started = time.monotonic()
    bed.runtime.stop(sandbox_id, timeout=10)
    assert time.monotonic() - started < 5  # the pause process exits on SIGTERM
    assert bed.runtime.inspect_sandbox(sandbox_id).state == "exited"
    assert bed.runtime.inspect(sandbox_id).exit_code == 0
    # PID 1 of the shared PID namespace died: the kernel killed the rest.
    wait_for_state(bed.runtime, sharer, "exited")
    assert bed.runtime.inspect(sharer).exit_code == 137
    stranded = bed.runtime.inspect(other)
    assert (stranded.state, stranded.ip_addresses) == ("running", [])


def test_joined_container_cannot_start_while_its_sandbox_is_stopped(bed: Bed) -> None:
    sandbox_id = bed.sandbox()
    engine_id = bed.runtime.create(bed.spec(SLEEP_FOREVER, sandbox_engine_id=sandbox_id))
    bed.runtime.stop(sandbox_id, timeout=5)
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.start(engine_id)
    container = bed.runtime.inspect(engine_id)
    assert (container.state, container.exit_code) == ("created", 128)
    assert container.error
    bed.runtime.start(sandbox_id)
    bed.runtime.start(engine_id)
    assert bed.runtime.inspect(engine_id).state == "running"


def test_restarted_sandbox_strands_joined_containers_until_they_restart(bed: Bed) -> None:
    sandbox_id = bed.sandbox()
    engine_id = bed.join(sandbox_id)
    bed.runtime.restart(sandbox_id, timeout=5)
    address = bed.runtime.inspect_sandbox(sandbox_id).ip_addresses
    assert address
    # Still running, but in the old network namespace: loopback only.
    stranded = bed.runtime.inspect(engine_id)
    assert (stranded.state, stranded.ip_addresses) == ("running", [])
    bed.runtime.restart(engine_id, timeout=5)
    assert bed.runtime.inspect(engine_id).ip_addresses == address


def test_remove_of_a_sandbox_alone_strands_its_containers(bed: Bed) -> None:
    # The engine removes a sandbox that containers joined; they keep running, cut off,
    # and can never start again. remove_sandbox (below) is what the agent should use.
    sandbox_id = bed.sandbox()
    engine_id = bed.join(sandbox_id)
    bed.runtime.remove(sandbox_id)
    stranded = bed.runtime.inspect(engine_id)
    assert (stranded.state, stranded.ip_addresses) == ("running", [])
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.restart(engine_id, timeout=1)
    assert bed.runtime.inspect(engine_id).state == "exited"
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.start(engine_id)


def test_remove_sandbox_removes_its_joined_containers_too(bed: Bed) -> None:
    sandbox_id, other_id = bed.sandbox(), bed.sandbox()
    joined = [bed.join(sandbox_id), bed.join(sandbox_id, share_pid=True)]
    created = bed.runtime.create(bed.spec(SLEEP_FOREVER, sandbox_engine_id=sandbox_id))
    bystander = bed.join(other_id)
    bed.runtime.remove_sandbox(sandbox_id)
    for engine_id in [*joined, created, sandbox_id]:
        with pytest.raises(errors.RuntimeNotFound):
            bed.runtime.inspect(engine_id)
    assert [c.id for c in bed.runtime.list_containers(bed.host)] == [bystander]
    bed.runtime.remove_sandbox(sandbox_id)  # gone already: fine


def test_missing_sandbox_raises_runtime_not_found(bed: Bed) -> None:
    with pytest.raises(errors.RuntimeNotFound):
        bed.runtime.inspect_sandbox("0" * 64)
    with pytest.raises(errors.RuntimeNotFound):
        bed.runtime.claim_pooled("0" * 64, str(uuids.uuid4()))
    assert bed.runtime.find_sandbox(str(uuids.uuid4())) is None


# --- the warm pool -------------------------------------------------------------------------


def test_pool_sandbox_carries_no_tenant_data_until_claimed(bed: Bed) -> None:
    pool_id = bed.runtime.create_sandbox(SandboxSpec(uuid=None, host=bed.host, pool=True))
    [free] = bed.runtime.list_sandboxes(bed.host)
    assert (free.id, free.uuid, free.pooled, free.state) == (pool_id, None, True, "running")
    assert free.ip_addresses
    labels = bed.runtime.inspect(pool_id).labels
    assert labels == {LABEL_HOST: bed.host, LABEL_KIND: "sandbox", LABEL_POOL: "1"}

    uuid = str(uuids.uuid4())
    bed.runtime.claim_pooled(pool_id, uuid)
    [claimed] = bed.runtime.list_sandboxes(bed.host)
    assert (claimed.id, claimed.uuid, claimed.pooled) == (pool_id, uuid, False)
    found = bed.runtime.find_sandbox(uuid)
    assert found is not None
    assert found.id == pool_id
    assert found.hostname
    joined = bed.join(pool_id, sandbox_uuid=uuid)
    assert bed.runtime.inspect(joined).ip_addresses == claimed.ip_addresses


def test_claim_of_a_claimed_or_unpooled_sandbox_is_conflict(bed: Bed) -> None:
    pool_id = bed.runtime.create_sandbox(SandboxSpec(uuid=None, host=bed.host, pool=True))
    bed.runtime.claim_pooled(pool_id, str(uuids.uuid4()))
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.claim_pooled(pool_id, str(uuids.uuid4()))
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.claim_pooled(bed.sandbox(), str(uuids.uuid4()))


def test_claim_for_a_uuid_that_has_a_sandbox_is_conflict(bed: Bed) -> None:
    uuid = str(uuids.uuid4())
    bed.sandbox(uuid=uuid)
    pool_id = bed.runtime.create_sandbox(SandboxSpec(uuid=None, host=bed.host, pool=True))
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.claim_pooled(pool_id, uuid)
    assert bed.runtime.inspect_sandbox(pool_id).pooled


def test_claim_of_a_stopped_pool_sandbox_is_conflict(bed: Bed) -> None:
    pool_id = bed.runtime.create_sandbox(SandboxSpec(uuid=None, host=bed.host, pool=True))
    bed.runtime.stop(pool_id, timeout=5)
    with pytest.raises(errors.RuntimeConflict):
        bed.runtime.claim_pooled(pool_id, str(uuids.uuid4()))


# --- volumes -------------------------------------------------------------------------------


def test_volume_is_shared_between_containers(bed: Bed) -> None:
    name = f"{bed.host}-data"
    bed.runtime.create_volume(name, bed.host, {"app": "web"})
    bed.runtime.create_volume(name, bed.host, {})  # already there: left as it is
    assert bed.runtime.list_volumes(bed.host) == [name]
    init = bed.run(
        ["sh", "-c", "echo seeded > /data/seed"],
        kind="init",
        volumes=[VolumeMount(name=name, destination="/data")],
    )
    assert bed.runtime.wait(init, timeout=15) == 0
    reader = bed.run(SLEEP_FOREVER, volumes=[VolumeMount(name, "/srv", read_only=True)])
    assert bed.runtime.exec(reader, ["cat", "/srv/seed"], 10).output == b"seeded\n"
    refused = bed.runtime.exec(reader, ["sh", "-c", "echo x > /srv/seed"], 10)
    assert refused.exit_code == 1
    assert b"Read-only file system" in refused.output


def test_volume_in_use_cannot_be_removed(bed: Bed) -> None:
    name = f"{bed.host}-busy"
    bed.runtime.create_volume(name, bed.host, {})
    engine_id = bed.runtime.create(bed.spec(["true"], volumes=[VolumeMount(name, "/data")]))
    with pytest.raises(errors.RuntimeConflict):  # even by a container that never ran
        bed.runtime.remove_volume(name)
    bed.runtime.remove(engine_id)
    bed.runtime.remove_volume(name)
    assert bed.runtime.list_volumes(bed.host) == []
    bed.runtime.remove_volume(name)  # missing: fine


def test_mount_of_a_missing_volume_creates_it_labelled_with_the_host(bed: Bed) -> None:
    name = f"{bed.host}-implicit"
    bed.runtime.create(bed.spec(["true"], volumes=[VolumeMount(name, "/data")]))
    assert bed.runtime.list_volumes(bed.host) == [name]


def test_a_volume_without_a_name_is_the_containers_own_and_goes_with_it(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER, volumes=[VolumeMount("", "/scratch", size=1)])
    done = bed.runtime.exec(engine_id, ["sh", "-c", "echo x > /scratch/f; cat /scratch/f"], 10)
    assert done.output == b"x\n"
    assert len(bed.runtime.list_volumes(bed.host)) == 1
    bed.runtime.remove(engine_id)
    assert bed.runtime.list_volumes(bed.host) == []


def test_injected_files_are_in_place_at_the_first_start(bed: Bed) -> None:
    content = base64.b64encode(b"key = value\n").decode()
    files = [InjectedFile("/etc/app/app.conf", content)]
    engine_id = bed.run(SLEEP_FOREVER, files=files)
    assert bed.runtime.exec(engine_id, ["cat", "/etc/app/app.conf"], 10).output == b"key = value\n"


# --- wait and the pause image --------------------------------------------------------------


def test_wait_returns_the_exit_code(bed: Bed) -> None:
    assert bed.runtime.wait(bed.run(["sh", "-c", "exit 3"]), timeout=15) == 3
    never_started = bed.runtime.create(bed.spec(SLEEP_FOREVER))
    assert bed.runtime.wait(never_started, timeout=5) == 0


def test_wait_returns_when_another_thread_stops_the_container(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    threading.Timer(0.3, lambda: bed.runtime.kill(engine_id)).start()
    assert bed.runtime.wait(engine_id, timeout=15) == 137


def test_wait_past_its_timeout_is_a_runtime_failure(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    started = time.monotonic()
    with pytest.raises(errors.RuntimeFailure):
        bed.runtime.wait(engine_id, timeout=0.5)
    assert time.monotonic() - started < 3
    assert bed.runtime.inspect(engine_id).state == "running"
    with pytest.raises(errors.RuntimeNotFound):
        bed.runtime.wait("0" * 64, timeout=1)


def test_ensure_pause_image_is_idempotent(bed: Bed) -> None:
    assert bed.runtime.ensure_pause_image() == PAUSE_IMAGE
    assert bed.runtime.ensure_pause_image() == PAUSE_IMAGE
    assert bed.runtime.has_image(PAUSE_IMAGE)


def test_pause_image_needs_busybox(tmp_path: Path) -> None:
    with pytest.raises(errors.RuntimeFailure, match="busybox-static"):
        pause_rootfs_tar(tmp_path / "no-busybox")


def test_pause_process_is_tiny_and_reaps_orphans(docker_bed: Bed) -> None:
    sandbox_id = docker_bed.sandbox()
    # An orphan of a PID-sharing container is re-parented to the pause process, PID 1.
    sharer = docker_bed.join(sandbox_id, share_pid=True)
    docker_bed.runtime.exec(sharer, ["sh", "-c", "sleep 0.1 & exit 0"], 10)
    time.sleep(0.5)
    status = docker_bed.runtime.exec(sharer, ["cat", "/proc/1/status"], 10).output.decode()
    rss_kib = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
    assert rss_kib < 4096
    states = docker_bed.runtime.exec(sharer, ["sh", "-c", "cat /proc/[0-9]*/stat"], 10).output
    assert b") Z " not in states, "a zombie was left unreaped"


def test_sandbox_events_are_not_reported_as_container_events(bed: Bed) -> None:
    stop = threading.Event()
    seen: list[object] = []
    stream = bed.runtime.events(bed.host, stop)
    consumer = threading.Thread(target=lambda: seen.extend(stream), daemon=True)
    consumer.start()
    try:
        sandbox_id = bed.sandbox()
        spec = bed.spec(["true"], sandbox_engine_id=sandbox_id)
        bed.runtime.start(bed.runtime.create(spec))
        bed.runtime.stop(sandbox_id, timeout=5)
        wait_for(lambda: any(getattr(e, "action", "") == "die" for e in seen))
    finally:
        stop.set()
    consumer.join(timeout=2.5)
    assert {getattr(event, "uuid", None) for event in seen} == {spec.uuid}


# --- tenant networks: no engine network, plugged in by pid --------------------------------


def test_without_engine_network_there_is_no_address_and_a_pid_to_plug_into(bed: Bed) -> None:
    sandbox_id = bed.sandbox(engine_network=False)
    joined = bed.join(sandbox_id)
    alone = bed.run(SLEEP_FOREVER, engine_network=False)
    assert bed.runtime.inspect_sandbox(sandbox_id).ip_addresses == []
    assert bed.runtime.inspect(alone).ip_addresses == []
    pids = [bed.runtime.netns_pid(engine_id) for engine_id in (sandbox_id, joined, alone)]
    assert all(pid is not None for pid in pids), pids
    assert bed.runtime.inspect(alone).pid == pids[2]  # what a create's start reads back
    if bed.kind == "docker":  # the sandbox and its member share one namespace, with only lo
        namespaces = {Path(f"/proc/{pid}/ns/net").readlink() for pid in pids[:2]}
        assert len(namespaces) == 1
        links = bed.runtime.exec(alone, ["ip", "-o", "link"], 10).output.decode()
        assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]
    else:
        assert pids[0] == pids[1] != pids[2]
    bed.runtime.stop(alone, 0)
    assert bed.runtime.netns_pid(alone) is None
    assert bed.runtime.inspect(alone).pid is None


def test_of_two_claims_of_one_pool_sandbox_at_once_one_wins(bed: Bed) -> None:
    pool_id = bed.runtime.create_sandbox(SandboxSpec(uuid=None, host=bed.host, pool=True))
    uuids_ = [str(uuids.uuid4()) for _ in range(2)]
    start = threading.Barrier(2)

    def claim(uuid: str) -> bool:
        start.wait()
        try:
            bed.runtime.claim_pooled(pool_id, uuid)
        except errors.RuntimeConflict:
            return False
        return True

    with ThreadPoolExecutor(2) as pool:
        won = list(pool.map(claim, uuids_))
    assert sorted(won) == [False, True]
    [claimed] = bed.runtime.list_sandboxes(bed.host)
    assert claimed.uuid == uuids_[won.index(True)]
