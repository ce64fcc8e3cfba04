"""The real `openstack cluster …` CLI (python-senlinclient) against `dockyard serve`: members
are real containers on the local engine. CLI calls cost a process each (≈1–2 s), so each
test makes few; state is watched over HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import docker
import httpx
import pytest

from tests.support.clustering import (
    containers_of,
    delete_cluster,
    nodes,
    profile,
    spec_file,
    wait_active,
)
from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine
CURL = shutil.which("curl") or "curl"  # ./dev installs it


def test_cluster_grows_and_shrinks_with_real_members(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess
) -> None:
    name = unique_name("c")
    profile(cli, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "3", name)
    members = wait_active(senlin, name, 3)
    cluster_id = members[0]["cluster_id"]
    # Members are ordinary containers of the project, labelled with their cluster and index.
    shown = containers_of(server, cluster_id)
    assert sorted(int(c["labels"]["io.dockyard.cluster.index"]) for c in shown) == [1, 2, 3]
    assert {c["status"] for c in shown} == {"Running"}
    assert {c["uuid"] for c in shown} == {n["physical_id"] for n in members}

    cli.run("resize", "--capacity", "4", name)
    wait_active(senlin, name, 4)
    cli.run("expand", "--count", "1", name)
    wait_active(senlin, name, 5)
    cli.run("shrink", "--count", "3", name)
    wait_active(senlin, name, 2)
    listed = cli.json("node", "list", "--cluster", name)
    assert len(listed) == 2
    assert {n["status"] for n in listed} == {"ACTIVE"}
    # What the lists print (short ids) is what users type next.
    assert cli.json("show", cluster_id[:8])["name"] == name
    node = cli.json("node", "show", listed[0]["id"])
    assert len(listed[0]["id"]) == 8
    assert node["id"].startswith(listed[0]["id"])
    assert node["cluster_id"] == cluster_id
    actions = senlin.get("/v1/actions", params={"target": cluster_id}).json()["actions"]
    assert {a["status"] for a in actions} == {"SUCCEEDED"}
    assert {"CLUSTER_CREATE", "CLUSTER_RESIZE", "CLUSTER_SCALE_OUT", "CLUSTER_SCALE_IN"} <= {
        a["action"] for a in actions
    }
    delete_cluster(cli, server, senlin, name)


def test_health_policy_recreates_a_killed_member_and_a_webhook_scales_out(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("h")
    profile(cli, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "2", name)
    before = wait_active(senlin, name, 2)
    health = spec_file(cli.cwd / "health.yaml", "senlin.policy.health", "1.1",
                       detection={"interval": 1,
                                  "detection_modes": [{"type": "NODE_STATUS_POLLING"}]},
                       recovery={"actions": [{"name": "RECREATE"}]})  # fmt: skip
    cli.run("policy", "create", "--spec-file", health, f"{name}-hp")
    cli.run("policy", "attach", "--policy", f"{name}-hp", name)
    wait_for(lambda: senlin.get(f"/v1/clusters/{name}/policies").json()["cluster_policies"],
             30, 0.3, "the binding")  # fmt: skip

    victim = before[0]["physical_id"]
    for container in engine.containers.list(filters={"label": f"io.dockyard.container={victim}"}):
        container.kill()
    after = wait_for(
        lambda: (m := wait_active(senlin, name, 2)) and victim not in {n["physical_id"] for n in m}
        and m, 90, 0.5, "the killed member to be recreated",
    )  # fmt: skip
    assert before[0]["id"] in {n["id"] for n in after}  # the same node, a new container
    # Removed from the engine outside the API: recreated as well.
    removed = before[1]["physical_id"]
    for container in engine.containers.list(filters={"label": f"io.dockyard.container={removed}"}):
        container.remove(force=True)

    def replaced() -> bool:
        return removed not in [n["physical_id"] for n in wait_active(senlin, name, 2)]

    wait_for(replaced, 90, 0.5, "the removed member to be recreated")

    # Each recovery is an action and an event, as `cluster action list/show` and `cluster
    # event list` show them.
    listed = cli.json("action", "list", "--full-id", "--filters", "action=NODE_RECOVER")
    recovered = [a for a in listed if a["target_id"] in (before[0]["id"], before[1]["id"])]
    assert sorted(a["target_id"] for a in recovered) == sorted(n["id"] for n in before)
    assert {a["status"] for a in recovered} == {"SUCCEEDED"}
    shown = cli.json("action", "show", recovered[0]["id"])
    assert (shown["action"], shown["cause"]) == ("NODE_RECOVER", "Health Policy")
    cluster_id = before[0]["cluster_id"]
    events = cli.json("event", "list", "--full-id", "--filters", f"cluster_id={cluster_id}")
    assert {"CLUSTER_CREATE", "NODE_RECOVER"} <= {e["action"] for e in events}, events

    receiver = cli.json("receiver", "create", "--type", "webhook", "--cluster", name,
                        "--action", "CLUSTER_SCALE_OUT", f"{name}-r")  # fmt: skip
    channel = receiver["channel"]  # the CLI prints the map as JSON text
    url = json.loads(channel)["alarm_url"] if isinstance(channel, str) else channel["alarm_url"]
    trigger = subprocess.run([CURL, "-sf", "-X", "POST", url], capture_output=True, text=True)
    assert trigger.returncode == 0, trigger.stderr
    wait_active(senlin, name, 3)
    cli.run("receiver", "delete", f"{name}-r")
    gone = subprocess.run([CURL, "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                           url], capture_output=True, text=True)  # fmt: skip
    assert gone.stdout == "404"
    delete_cluster(cli, server, senlin, name)


def test_rolling_update_replaces_members_without_going_below_min_in_service(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("u")
    # The new image: the test image under another tag (no registry here), so the members'
    # image changes while their command stays.
    repository, tag = "dockyard-test/busybox", f"roll-{name}"
    engine.images.get(TEST_IMAGE).tag(repository, tag)
    new_image = f"{repository}:{tag}"
    profile(cli, f"{name}-v1")
    new_profile = profile(cli, f"{name}-v2", image=new_image)
    cli.run("create", "--profile", f"{name}-v1", "--desired-capacity", "3", name)
    wait_active(senlin, name, 3)
    batch = spec_file(cli.cwd / "batch.yaml", "senlin.policy.batch", "1.0",
                      min_in_service=2, max_batch_size=1, pause_time=0)  # fmt: skip
    cli.run("policy", "create", "--spec-file", batch, f"{name}-bp")
    cli.run("policy", "attach", "--policy", f"{name}-bp", name)
    cli.run("update", "--profile", f"{name}-v2", name)
    cluster_id = senlin.get(f"/v1/clusters/{name}").json()["cluster"]["id"]

    in_service: list[int] = []

    def updated() -> bool:
        members = nodes(senlin, name)
        running = [c for c in containers_of(server, cluster_id) if c["status"] == "Running"]
        in_service.append(len(running))
        return len(members) == 3 and all(
            n["profile_id"] == new_profile and n["status"] == "ACTIVE" for n in members
        )

    try:
        wait_for(updated, 120, 0.2, "every member to run the new profile")
        assert min(in_service) >= 2, in_service
        members = containers_of(server, cluster_id)
        assert [c["image"] for c in members] == [new_image] * 3
        update = senlin.get("/v1/actions", params={"action": "CLUSTER_UPDATE"}).json()["actions"]
        assert [a["status"] for a in update if a["target"] == cluster_id] == ["SUCCEEDED"]
        delete_cluster(cli, server, senlin, name)
    finally:
        engine.images.remove(new_image)  # the tag only: the test image keeps its own


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(("resize", "--capacity", "9", "--strict"),
                     "greater than the cluster's max_size", id="resize-over-max"),
        pytest.param(("shrink", "--count", "5"), "less than the cluster's min_size",
                     id="shrink-below-min"),
        pytest.param(("policy", "attach", "--policy", "no-such-policy"),
                     "could not be found", id="unknown-policy"),
    ],
)  # fmt: skip
def test_out_of_range_sizes_and_unknown_policies_are_400s(
    cli: SenlinCli, senlin: httpx.Client, args: tuple[str, ...], message: str
) -> None:
    name = unique_name("bad")
    profile(cli, f"{name}-p")
    body = {"name": name, "profile_id": f"{name}-p", "desired_capacity": "0", "max_size": "4"}
    created = senlin.post("/v1/clusters", json={"cluster": body})
    assert created.status_code == 202, created.text
    done = cli.run(*args, name, check=False)
    assert "400" in done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert senlin.get(f"/v1/clusters/{name}").json()["cluster"]["desired_capacity"] == 0
    assert senlin.delete(f"/v1/clusters/{name}").status_code == 202


def test_failed_batch_stops_the_rolling_update_and_says_why(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess
) -> None:
    name = unique_name("f")
    profile(cli, f"{name}-v1")
    profile(cli, f"{name}-bad", ["/no/such/program"])
    cli.run("create", "--profile", f"{name}-v1", "--desired-capacity", "2", name)
    wait_active(senlin, name, 2)
    batch = {"type": "senlin.policy.batch", "version": "1.0",
             "properties": {"min_in_service": 1, "max_batch_size": 1, "pause_time": 0}}  # fmt: skip
    assert senlin.post("/v1/policies", json={"policy": {"name": name, "spec": batch}}).is_success
    attach = {"policy_attach": {"policy_id": name}}
    assert senlin.post(f"/v1/clusters/{name}/actions", json=attach).status_code == 202
    updated = senlin.patch(f"/v1/clusters/{name}", json={"cluster": {"profile_id": f"{name}-bad"}})
    assert updated.status_code == 202, updated.text
    action = updated.headers["Location"].rsplit("/", 1)[-1]

    def ended() -> dict[str, Any] | None:
        shown: dict[str, Any] = senlin.get(f"/v1/actions/{action}").json()["action"]
        return shown if shown["status"] in ("SUCCEEDED", "FAILED") else None

    result = wait_for(ended, 90, 0.5, "the update to end")
    assert result["status"] == "FAILED"
    assert "Rolling update stopped" in result["status_reason"]
    members = nodes(senlin, name)
    assert sorted(n["status"] for n in members) == ["ACTIVE", "ERROR"]  # the second kept
    cluster = senlin.get(f"/v1/clusters/{name}").json()["cluster"]
    assert "Rolling update stopped" in cluster["status_reason"]
    delete_cluster(cli, server, senlin, name)
