"""The deletion and health policies' finer rules, cancelling an action and the cluster's status
against min_size, through the real `openstack cluster …` CLI on members that are real
containers of the local engine."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import time
from typing import Any

import docker
import httpx
import pytest

from tests.support.clustering import (
    HTTP_MEMBER,
    attach_policy,
    containers_of,
    delete_cluster,
    nodes,
    one_member_cluster,
    profile,
    spec_file,
    status_polling_health,
    wait_active,
    wait_bound,
)
from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine
CURL = shutil.which("curl") or "curl"


def engine_containers(engine: docker.DockerClient, uuid: str) -> list[Any]:
    # sparse: no inspect per container, which races a container being removed meanwhile
    found: list[Any] = engine.containers.list(
        all=True, sparse=True, filters={"label": f"io.dockyard.container={uuid}"}
    )
    return found


def cluster_of(api: httpx.Client, name: str) -> dict[str, Any]:
    shown: dict[str, Any] = api.get(f"/v1/clusters/{name}").json()["cluster"]
    return shown


def test_deletion_policy_grace_period_and_kept_capacity(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("del")
    profile(cli, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "3", name)
    members = wait_active(senlin, name, 3)
    deletion = spec_file(cli.cwd / "deletion.yaml", "senlin.policy.deletion", "1.1",
                         criteria="OLDEST_FIRST", grace_period=8, destroy_after_deletion=True,
                         reduce_desired_capacity=False)  # fmt: skip
    attach_policy(cli, name, deletion, f"{name}-dp")
    wait_bound(senlin, name)

    # members del: the node's container keeps running for the grace period, then goes; the
    # desired capacity stays 3 (reduce_desired_capacity false), so a new member replaces it.
    gone = members[-1]
    asked = time.monotonic()
    cli.run("members", "del", "--nodes", gone["id"], name)
    time.sleep(max(0.0, asked + 4 - time.monotonic()))  # a CLI run takes a second or two
    assert [c.status for c in engine_containers(engine, gone["physical_id"])] == ["running"]
    wait_for(lambda: not engine_containers(engine, gone["physical_id"]), 60, 0.2, "deletion")
    assert time.monotonic() - asked >= 8
    after = wait_active(senlin, name, 3)
    assert gone["id"] not in {n["id"] for n in after}
    assert cluster_of(senlin, name)["desired_capacity"] == 3

    # shrink: the oldest member goes, after the grace period too.
    oldest = min(after, key=lambda n: n["index"])
    asked = time.monotonic()
    cli.run("shrink", "--count", "1", name)
    time.sleep(max(0.0, asked + 4 - time.monotonic()))
    assert [c.status for c in engine_containers(engine, oldest["physical_id"])] == ["running"]
    left = wait_active(senlin, name, 2)
    assert time.monotonic() - asked >= 8
    assert oldest["id"] not in {n["id"] for n in left}

    # A message receiver needs Zaqar: a 400 that says so, in Senlin's error format.
    body = {"receiver": {"name": name, "type": "message", "cluster_id": name}}
    refused = senlin.post("/v1/receivers", json=body)
    assert refused.status_code == 400
    assert refused.json()["code"] == 400
    assert "Zaqar" in refused.json()["error"]["message"]
    done = cli.run("receiver", "create", "--type", "message", "--cluster", name, name,
                   check=False)  # fmt: skip
    assert done.returncode != 0
    assert "Zaqar" in done.stdout + done.stderr
    delete_cluster(cli, server, senlin, name)


def test_poll_url_made_by_the_members_host_recovers_only_the_member_that_stops_answering(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    # Container members on a tenant network of the project's (the profile's `nets`), which
    # the control plane has no leg on: their host's agent polls them from their namespace.
    name = unique_name("poll")
    with httpx.Client(base_url=f"{server.url}/network/v2.0", timeout=30) as neutron:
        net = neutron.post("/networks", json={"network": {"name": name}}).json()["network"]
        subnet = {"subnet": {"network_id": net["id"], "cidr": "10.62.0.0/24"}}
        assert neutron.post("/subnets", json=subnet).status_code == 201
    spec = spec_file(cli.cwd / "p.yaml", "container.dockyard", "1.0", image=TEST_IMAGE,
                     command=HTTP_MEMBER, cpu=0.1, memory=32,
                     nets=[{"network": net["id"]}])  # fmt: skip
    cli.run("profile", "create", "--spec-file", spec, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "2", "--min-size", "2",
            name)  # fmt: skip
    first = wait_active(senlin, name, 2)
    for member in first:
        with server.client() as zun:
            shown = zun.get(f"/v1/containers/{member['physical_id']}").json()
        [(network_id, [entry])] = shown["addresses"].items()
        assert network_id == net["id"]
        assert ipaddress.ip_address(entry["addr"]) in ipaddress.ip_network("10.62.0.0/24")
    health = spec_file(cli.cwd / "health.yaml", "senlin.policy.health", "1.1",
                       detection={"interval": 1, "node_update_timeout": 2, "detection_modes": [
                           {"type": "NODE_STATUS_POLL_URL",
                            "options": {"poll_url": "http://{nova_server_ip}:8080/",
                                        "poll_url_healthy_response": "ok",
                                        "poll_url_retry_limit": 2}}]},
                       recovery={"actions": [{"name": "RECREATE"}]})  # fmt: skip
    cli.run("policy", "create", "--spec-file", health, f"{name}-hp")
    cli.run("policy", "attach", "--policy", f"{name}-hp", name)
    time.sleep(5)  # polled a few times: members that answer are left alone
    assert sorted(n["physical_id"] for n in nodes(senlin, name)) == sorted(
        n["physical_id"] for n in first
    )

    failing, answering = first
    (container,) = engine_containers(engine, failing["physical_id"])
    assert container.exec_run(["killall", "httpd"]).exit_code == 0
    running: list[int] = []

    def recovered() -> bool:
        now = {n["id"]: n for n in nodes(senlin, name)}
        old = engine_containers(engine, failing["physical_id"])
        new = now[failing["id"]]["physical_id"]
        fresh = engine_containers(engine, new) if new != failing["physical_id"] else []
        running.append(sum(c.status == "running" for c in [*old, *fresh]))
        return bool(new != failing["physical_id"] and now[failing["id"]]["status"] == "ACTIVE")

    wait_for(recovered, 90, 0.2, "the member that stopped answering to be recreated")
    assert min(running) >= 1, running  # min_size 2: the old one ran until its successor did
    time.sleep(3)  # the new member answers its polls; the other one never stopped answering
    after = {n["id"]: n for n in nodes(senlin, name)}
    assert after[answering["id"]]["physical_id"] == answering["physical_id"]
    assert after[failing["id"]]["status"] == "ACTIVE"
    recoveries = senlin.get("/v1/actions", params={"action": "NODE_RECOVER"}).json()["actions"]
    reasons = [a["inputs"]["reason"] for a in recoveries if a["target"] == failing["id"]]
    assert len(reasons) == 1, reasons
    assert "Polling http://10.62.0." in reasons[0], reasons
    assert not [a for a in recoveries if a["target"] == answering["id"]]
    delete_cluster(cli, server, senlin, name)
    with httpx.Client(base_url=f"{server.url}/network/v2.0", timeout=30) as neutron:
        assert neutron.delete(f"/networks/{net['id']}").status_code == 204


def test_poll_url_that_names_anything_but_the_member_is_a_400(senlin: httpx.Client) -> None:
    # The member's host makes the GET: a URL naming another host would make it fetch that.
    for url in ("http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:9517/v1/",
                "http://{ip}@10.0.0.1/", "http://{ip}.evil.example/", "https://{ip}/",
                "http://{ip}:99999/", "http://{nodename}:8080/", "file:///etc/passwd",
                "http://{ip}/a\x01b", "http://{ip}/é"):  # fmt: skip
        spec = {"type": "senlin.policy.health", "version": "1.1", "properties": {
            "detection": {"detection_modes": [
                {"type": "NODE_STATUS_POLL_URL", "options": {"poll_url": url}}]},
            "recovery": {"actions": [{"name": "RECREATE"}]}}}  # fmt: skip
        refused = senlin.post("/v1/policies", json={"policy": {"name": "hp", "spec": spec}})
        assert refused.status_code == 400, (url, refused.text)
        assert refused.json()["error"]["code"] == 400
        assert "poll_url" in refused.json()["error"]["message"]
    assert not [p for p in senlin.get("/v1/policies").json()["policies"] if p["name"] == "hp"]


def test_cancelled_rolling_update_replaces_no_further_batch(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess
) -> None:
    name = unique_name("cx")
    profile(cli, f"{name}-v1")
    new_profile = profile(cli, f"{name}-v2", ["sleep", "86401"])
    cli.run("create", "--profile", f"{name}-v1", "--desired-capacity", "3", name)
    wait_active(senlin, name, 3)
    batch = spec_file(cli.cwd / "batch.yaml", "senlin.policy.batch", "1.0",
                      min_in_service=2, max_batch_size=1, pause_time=60)  # fmt: skip
    cli.run("policy", "create", "--spec-file", batch, f"{name}-bp")
    cli.run("policy", "attach", "--policy", f"{name}-bp", name)
    cli.run("update", "--profile", f"{name}-v2", name)
    update = senlin.get("/v1/actions", params={"action": "CLUSTER_UPDATE"}).json()["actions"]
    cluster_id = cluster_of(senlin, name)["id"]
    (action,) = [a for a in update if a["target"] == cluster_id]

    def first_batch() -> bool:
        done = [n for n in nodes(senlin, name) if n["profile_id"] == new_profile]
        return len(done) == 1 and done[0]["status"] == "ACTIVE"

    wait_for(first_batch, 60, 0.2, "the first batch")
    cli.run("action", "update", "--status", "CANCELLED", action["id"], check=False)
    shown = senlin.get(f"/v1/actions/{action['id']}").json()["action"]
    assert shown["status"] == "CANCELLED"
    assert shown["end_time"]
    wait_for(lambda: cluster_of(senlin, name)["status"] == "ACTIVE", 30, 0.3, "ACTIVE")
    time.sleep(3)
    profiles = sorted(n["profile_id"] == new_profile for n in nodes(senlin, name))
    assert profiles == [False, False, True]
    assert len(wait_active(senlin, name, 3)) == 3
    again = senlin.patch(f"/v1/actions/{action['id']}", json={"action": {"status": "CANCELLED"}})
    assert again.status_code == 409
    delete_cluster(cli, server, senlin, name)


def test_cluster_status_against_min_size(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("min")
    profile(cli, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "2", "--min-size", "1",
            name)  # fmt: skip
    members = wait_active(senlin, name, 2)
    for container in engine_containers(engine, members[0]["physical_id"]):
        container.kill()
    warned = wait_for(lambda: (c := cluster_of(senlin, name))["status"] == "WARNING" and c,
                      60, 0.3, "WARNING with one of two members down")  # fmt: skip
    assert "1 of 2 member(s) in ERROR" in warned["status_reason"]
    cli.run("resize", "--min-size", "2", name)
    failed = wait_for(lambda: (c := cluster_of(senlin, name))["status"] == "ERROR" and c,
                      60, 0.3, "ERROR below min_size")  # fmt: skip
    assert "below min_size (2)" in failed["status_reason"]
    delete_cluster(cli, server, senlin, name)


def test_health_rebuild_remakes_the_member_in_place(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("rb")
    member = one_member_cluster(cli, senlin, name)
    attach_policy(cli, name, status_polling_health(cli, "REBUILD"), f"{name}-hp")
    wait_bound(senlin, name)
    (before,) = containers_of(server, member["cluster_id"])
    (old,) = engine_containers(engine, member["physical_id"])
    old.kill()

    def rebuilt() -> list[Any] | None:
        (node,) = nodes(senlin, name)
        fresh = [c for c in engine_containers(engine, member["physical_id"]) if c.id != old.id]
        return fresh if node["status"] == "ACTIVE" and fresh else None

    (fresh,) = wait_for(rebuilt, 90, 0.3, "the member rebuilt in place")
    assert fresh.status == "running"
    (node,) = nodes(senlin, name)
    assert node["id"] == member["id"]
    assert node["physical_id"] == member["physical_id"]  # the same container, remade
    (after,) = containers_of(server, member["cluster_id"])
    assert (after["uuid"], after["name"]) == (before["uuid"], before["name"])
    assert after["status"] == "Running"
    with pytest.raises(docker.errors.NotFound):
        old.reload()
    actions = senlin.get("/v1/actions", params={"action": "NODE_RECOVER"}).json()["actions"]
    assert [a["inputs"]["operation"] for a in actions if a["target"] == member["id"]] == ["REBUILD"]
    delete_cluster(cli, server, senlin, name)


def test_scaling_policy_best_effort_and_cooldown_through_a_webhook(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess
) -> None:
    # An alarm that fires twice: the first scale-out is clamped to max_size (best_effort), the
    # second falls in the cooldown and changes nothing, and says why.
    name = unique_name("sc")
    profile(cli, f"{name}-p")
    body = {"name": name, "profile_id": f"{name}-p", "desired_capacity": "1", "max_size": "2"}
    assert senlin.post("/v1/clusters", json={"cluster": body}).status_code == 202
    wait_active(senlin, name, 1)
    scaling = spec_file(cli.cwd / "scaling.yaml", "senlin.policy.scaling", "1.0",
                        event="CLUSTER_SCALE_OUT",
                        adjustment={"type": "CHANGE_IN_CAPACITY", "number": 2,
                                    "best_effort": True, "cooldown": 120})  # fmt: skip
    attach_policy(cli, name, scaling, f"{name}-sp")
    wait_bound(senlin, name)
    receiver = {"name": name, "type": "webhook", "cluster_id": name,
                "action": "CLUSTER_SCALE_OUT"}  # fmt: skip
    made = senlin.post("/v1/receivers", json={"receiver": receiver})
    assert made.status_code == 201, made.text
    url = made.json()["receiver"]["channel"]["alarm_url"]

    first = subprocess.run([CURL, "-s", "-w", "\n%{http_code}", "-X", "POST", url],
                           capture_output=True, text=True)  # fmt: skip
    assert first.stdout.endswith("\n202"), first.stdout
    wait_active(senlin, name, 2)  # 1 + 2 clamped to max_size 2
    second = subprocess.run([CURL, "-s", "-w", "\n%{http_code}", "-X", "POST", url],
                            capture_output=True, text=True)  # fmt: skip
    answer, _, status = second.stdout.rpartition("\n")
    assert status == "409", second.stdout
    assert "cooldown" in json.loads(answer)["error"]["message"]
    done = cli.run("expand", name, check=False)  # no count: the policy's, in cooldown too
    assert "cooldown" in done.stdout + done.stderr, done
    assert cluster_of(senlin, name)["desired_capacity"] == 2
    delete_cluster(cli, server, senlin, name)


def test_health_reboot_restarts_the_same_container(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("rt")
    member = one_member_cluster(cli, senlin, name)
    attach_policy(cli, name, status_polling_health(cli, "REBOOT"), f"{name}-hp")
    wait_bound(senlin, name)
    (old,) = engine_containers(engine, member["physical_id"])
    started = engine.api.inspect_container(old.id)["State"]["StartedAt"]
    old.kill()

    def restarted() -> bool:
        (node,) = nodes(senlin, name)
        state = engine.api.inspect_container(old.id)["State"]
        return bool(
            node["status"] == "ACTIVE" and state["Running"] and state["StartedAt"] != started
        )

    wait_for(restarted, 90, 0.3, "the member restarted in place")
    (node,) = nodes(senlin, name)
    assert node["physical_id"] == member["physical_id"]
    assert [c.id for c in engine_containers(engine, member["physical_id"])] == [old.id]
    actions = senlin.get("/v1/actions", params={"action": "NODE_RECOVER"}).json()["actions"]
    assert [a["inputs"]["operation"] for a in actions if a["target"] == member["id"]] == ["REBOOT"]
    delete_cluster(cli, server, senlin, name)


def test_disabled_health_policy_leaves_a_failed_member_until_cluster_recover(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("rc")
    member = one_member_cluster(cli, senlin, name)
    attach_policy(cli, name, status_polling_health(cli, "RECREATE"), f"{name}-hp")
    done = cli.run("policy", "binding", "update", "--policy", f"{name}-hp", "--enabled", "false",
                   name)  # fmt: skip
    assert "accepted" in done.stdout, done
    (binding,) = cli.json("policy", "binding", "list", name)
    assert binding["is_enabled"] is False, binding

    (old,) = engine_containers(engine, member["physical_id"])
    old.kill()
    wait_for(lambda: nodes(senlin, name)[0]["status"] == "ERROR", 60, 0.3, "the member in ERROR")
    time.sleep(3)  # the disabled policy recovers nothing
    (node,) = nodes(senlin, name)
    assert (node["status"], node["physical_id"]) == ("ERROR", member["physical_id"])
    assert "accepted" in cli.run("check", name).stdout
    assert "accepted" in cli.run("recover", name).stdout

    def recovered() -> bool:
        (now,) = nodes(senlin, name)
        return bool(now["status"] == "ACTIVE" and now["physical_id"] != member["physical_id"])

    wait_for(recovered, 60, 0.3, "the member recovered on request")
    actions = {a["action"]: a for a in cli.json("action", "list", "--full-id")
               if a["target_id"] in (member["cluster_id"], member["id"])}  # fmt: skip
    assert {"CLUSTER_CHECK", "CLUSTER_RECOVER", "NODE_RECOVER"} <= set(actions), actions
    delete_cluster(cli, server, senlin, name)
