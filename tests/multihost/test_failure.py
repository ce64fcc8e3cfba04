"""Hosts that fail: down after silence, Unknown containers, deletes that finish later, restarts."""

from __future__ import annotations

import signal

import httpx

from tests.multihost.common import engine_holders, engine_ids, engine_state, run, wait_settled
from tests.support.multihost import Bed, Host
from tests.support.wait import wait_for, wait_gone, wait_status


def _show(api: httpx.Client, uuid: str) -> dict[str, object]:
    body: dict[str, object] = api.get(f"/v1/containers/{uuid}").json()
    return body


def _on(api: httpx.Client, host: Host, name: str) -> dict[str, object]:
    shown = wait_settled(api, run(api, name, host=host.name)["uuid"])
    assert shown["status"] == "Running", f"{name} on {host.name}: {shown['status_reason']}"
    return shown


def test_silent_host_is_down_its_containers_unknown_deletable_and_reconciled_on_return(
    bed: Bed, api: httpx.Client, api2: httpx.Client
) -> None:
    host = bed.hosts[2]
    kept, deleted, stopped = (str(_on(api, host, n)["uuid"]) for n in ("kept", "gone", "halted"))
    host.stop_agent(signal.SIGKILL)  # the machine's agent dies; its engine keeps running
    try:
        wait_for(lambda: host.name not in bed.hosts_up(), timeout=10, what=f"{host.name} down")
        for uuid in (kept, deleted, stopped):
            wait_status(api2, uuid, "Unknown", timeout=10)  # on both replicas
            wait_status(api, uuid, "Unknown", timeout=10)
        # Zun answers 500 here; Dockyard accepts the delete and finishes it when it can.
        assert api.delete(f"/v1/containers/{deleted}?stop=True").status_code == 204
        assert _show(api, deleted)["status"] == "Deleting"
        assert engine_holders(bed, deleted) == [host.name]
        engine = host.engine_client()
        try:  # meanwhile the container stops on the host, unseen by anybody
            found = engine.containers.list(
                all=True, filters={"label": f"io.dockyard.container={stopped}"}
            )
            assert len(found) == 1, f"engine containers of {stopped}: {found}"
            found[0].stop(timeout=0)
        finally:
            engine.close()
    finally:  # back, even when a check above failed: later tests need all hosts
        host.start_agent(bed)
    wait_gone(api, deleted, timeout=30)
    assert engine_holders(bed, deleted) == []
    assert wait_status(api, kept, "Running")["host"] == host.name
    assert wait_status(api2, stopped, "Stopped")["host"] == host.name
    assert engine_state(host, kept) == "running"


def test_delete_while_down_finishes_when_the_host_is_removed(bed: Bed, api: httpx.Client) -> None:
    host = bed.hosts[1]
    doomed, stranded = (str(_on(api, host, n)["uuid"]) for n in ("doomed", "stranded"))
    old_uuid = bed.host_uuid(host)
    host.stop_agent(signal.SIGKILL)
    wait_status(api, doomed, "Unknown", timeout=10)
    assert api.delete(f"/v1/containers/{doomed}?stop=True").status_code == 204
    removed = api.delete("/v1/services", params={"host": host.name, "binary": "zun-compute"})
    assert removed.status_code == 200, removed.text
    wait_gone(api, doomed, timeout=10)
    left = _show(api, stranded)
    assert left["status"] == "Error"
    assert host.name in str(left["status_reason"])
    assert api.delete(f"/v1/containers/{stranded}").status_code == 204
    wait_gone(api, stranded, timeout=10)
    # The machine comes back as a new host (the old identity is refused: a removal stands).
    # The old host's engine containers are nobody's now: not adopted, not shown; the
    # operator removes them by their old host label (README, "When a host fails").
    host.start_agent(bed, state_dir=host.dir / "state-rejoined")
    wait_for(
        lambda: host.name in bed.hosts_up() and bed.host_uuid(host) != old_uuid,
        timeout=30,
        what=f"{host.name} to rejoin as a new host",
    )
    bed.wait_hosts_up(len(bed.hosts))
    assert engine_holders(bed, doomed) == engine_holders(bed, stranded) == [host.name]
    assert api.get("/v1/containers?all_projects=1").json()["containers"] == []
    host.remove_containers_of(old_uuid)


def test_engine_restart_under_a_running_agent_loses_nothing(bed: Bed, api: httpx.Client) -> None:
    host = bed.hosts[0]
    before = str(_on(api, host, "survivor")["uuid"])
    host.stop_engine()  # live-restore: the containers keep running without their engine
    host.start_engine()
    after = _on(api, host, "newcomer")  # the agent works against the new engine process
    assert after["status"] == "Running"
    assert wait_status(api, before, "Running")["host"] == host.name
    assert api.post(f"/v1/containers/{before}/stop?timeout=0").status_code == 202
    wait_status(api, before, "Stopped")  # engine events flow again: the stop is observed
    assert engine_holders(bed, before) == engine_holders(bed, str(after["uuid"])) == [host.name]


def test_agent_restart_under_running_containers_loses_and_duplicates_nothing(
    bed: Bed, api: httpx.Client
) -> None:
    host = bed.hosts[0]
    running = [str(_on(api, host, f"steady-{i}")["uuid"]) for i in range(2)]
    before = {uuid: engine_ids(host, uuid) for uuid in running}
    host.stop_agent(signal.SIGKILL)
    queued = run(api, "queued", host=host.name)  # accepted while the agent is away
    host.start_agent(bed)
    assert wait_settled(api, queued["uuid"])["status"] == "Running"
    for uuid in running:  # the very same engine containers, still running, none added
        assert wait_status(api, uuid, "Running")["host"] == host.name
        assert engine_ids(host, uuid) == before[uuid]
        assert len(before[uuid]) == 1
        assert engine_state(host, uuid) == "running"
    assert engine_holders(bed, queued["uuid"]) == [host.name]
