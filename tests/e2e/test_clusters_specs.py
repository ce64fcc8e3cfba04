"""Senlin's own container profile (container.dockerinc.docker 1.0) through the real `openstack
cluster …` CLI, and bad specs and sizes refused with 400s in Senlin's error format before
anything is made."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.clustering import containers_of, delete_cluster, spec_file, wait_active
from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine

# One string, as Senlin's docker profile takes it (split like a shell would).
COMMAND = "sh -c \"trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done\""
DOCKER = "container.dockerinc.docker"


def host_name(server: DockyardProcess) -> str:
    with server.client() as zun:
        (host,) = zun.get("/v1/hosts").json()["hosts"]
    return str(host["hostname"])


def refused(response: httpx.Response, *words: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 400
    assert body["error"]["code"] == 400
    assert body["title"] == "Bad Request"
    for word in words:
        assert word in body["error"]["message"], body


def test_docker_profile_places_members_by_host_node_and_host_cluster(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess
) -> None:
    name = unique_name("dk")
    host = host_name(server)
    pinned = spec_file(cli.cwd / "pinned.yaml", DOCKER, "1.0", image=TEST_IMAGE,
                       command=COMMAND, host_node=host, host_cluster="nova")  # fmt: skip
    cli.run("profile", "create", "--spec-file", pinned, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "2", name)
    members = wait_active(senlin, name, 2)
    shown = containers_of(server, members[0]["cluster_id"])
    assert {c["host"] for c in shown} == {host}
    assert {tuple(c["command"]) for c in shown} == {
        ("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done")
    }
    assert {c["status"] for c in shown} == {"Running"}

    # The design's rules: one of host_node / host_cluster at least; both: the node in the group.
    for label, properties, words in (
        ("neither", {}, ("host_node", "host_cluster")),
        ("elsewhere", {"host_node": host, "host_cluster": "az-nowhere"}, ("not in",)),
        ("unknown", {"host_node": "no-such-host"}, ("not a known host",)),
    ):
        bad = spec_file(cli.cwd / f"{label}.yaml", DOCKER, "1.0", image=TEST_IMAGE,
                        **properties)  # fmt: skip
        done = cli.run("profile", "create", "--spec-file", bad, f"{name}-{label}", check=False)
        assert done.returncode != 0
        assert "400" in done.stdout + done.stderr, done
        assert all(w in done.stdout + done.stderr for w in words), done
    listed = senlin.get("/v1/profiles").json()["profiles"]
    assert [p["name"] for p in listed if p["name"].startswith(name)] == [f"{name}-p"]
    delete_cluster(cli, server, senlin, name)


SCALING = {"event": "CLUSTER_SCALE_OUT", "adjustment": {"type": "CHANGE_IN_CAPACITY"}}


@pytest.mark.parametrize(
    ("kind", "spec", "words"),
    [
        pytest.param("profile", {"type": "container.nope", "version": "1.0",
                                 "properties": {"image": TEST_IMAGE}},
                     ("container.nope",), id="unknown-profile-type"),
        pytest.param("profile", {"type": DOCKER, "version": "9.9",
                                 "properties": {"image": TEST_IMAGE, "host_cluster": "nova"}},
                     ("9.9",), id="unknown-profile-version"),
        pytest.param("profile", {"type": "container.dockyard", "version": "1.0",
                                 "properties": {"command": ["true"]}},
                     ("image",), id="no-image"),
        pytest.param("profile", {"type": "container.dockyard", "version": "1.0",
                                 "properties": {"image": TEST_IMAGE, "colour": "blue"}},
                     ("colour",), id="unknown-property"),
        pytest.param("profile", {"type": "container.dockyard", "version": "1.0",
                                 "properties": {"image": TEST_IMAGE, "memory": "lots"}},
                     ("memory",), id="bad-memory"),
        pytest.param("profile", {"type": "container.dockyard", "version": "1.0"},
                     ("properties",), id="no-properties"),
        pytest.param("policy", {"type": "senlin.policy.nope", "version": "1.0",
                                "properties": {}},
                     ("senlin.policy.nope",), id="unknown-policy-type"),
        pytest.param("policy", {"type": "senlin.policy.scaling", "version": "1.0",
                                "properties": {**SCALING, "adjustment": {"type": "BOGUS"}}},
                     ("adjustment.type",), id="bad-adjustment-type"),
        pytest.param("policy", {"type": "senlin.policy.scaling", "version": "1.0",
                                "properties": {**SCALING, "event": "CLUSTER_EXPLODE"}},
                     ("event",), id="bad-event"),
        pytest.param("policy", {"type": "senlin.policy.zone_placement", "version": "1.0",
                                "properties": {"zones": []}},
                     ("zones",), id="no-zones"),
        pytest.param("policy", {"type": "senlin.policy.batch", "version": "1.0",
                                "properties": {"min_in_service": -1}},
                     ("min_in_service",), id="negative-min-in-service"),
        pytest.param("policy", {"type": "senlin.policy.health", "version": "1.1",
                                "properties": {"detection": {"detection_modes": [
                                    {"type": "NODE_STATUS_POLLING"}]},
                                    "recovery": {"actions": [{"name": "PRAY"}]}}},
                     ("recovery.actions",), id="unknown-recovery"),
    ],
)  # fmt: skip
def test_bad_specs_are_400s_and_make_nothing(
    senlin: httpx.Client, kind: str, spec: dict[str, Any], words: tuple[str, ...]
) -> None:
    name = unique_name("badspec")
    collection = "/v1/profiles" if kind == "profile" else "/v1/policies"
    refused(senlin.post(collection, json={kind: {"name": name, "spec": spec}}), *words)
    assert name not in senlin.get(collection).text


def test_bad_cluster_sizes_and_profiles_are_400s_and_make_nothing(
    senlin: httpx.Client, server: DockyardProcess
) -> None:
    name = unique_name("badsize")
    spec = {"type": "container.dockyard", "version": "1.0", "properties": {"image": TEST_IMAGE}}
    assert senlin.post("/v1/profiles", json={"profile": {"name": name, "spec": spec}}).is_success
    for body, words in (
        ({"min_size": "3", "max_size": "2"}, ("min_size",)),
        ({"desired_capacity": "5", "max_size": "2"}, ("max_size",)),
        ({"desired_capacity": "1", "min_size": "2"}, ("min_size",)),
        ({"desired_capacity": "-1"}, ("desired_capacity",)),
        ({"desired_capacity": "three"}, ("desired_capacity",)),
        ({"profile_id": "no-such-profile"}, ("no-such-profile",)),
    ):
        cluster = {"name": name, "profile_id": name, **body}
        refused(senlin.post("/v1/clusters", json={"cluster": cluster}), *words)
    assert senlin.get(f"/v1/clusters/{name}").status_code == 404
    with server.client() as zun:
        listed = zun.get("/v1/containers").json()["containers"]
    assert not [c for c in listed if c["name"].startswith(name)]
    senlin.delete(f"/v1/profiles/{name}")


def test_members_are_charged_to_the_projects_quota(
    senlin: httpx.Client, server: DockyardProcess
) -> None:
    """A member the project's quota has no room for fails and says why; the others run."""
    name = unique_name("quota")
    spec = {"type": "container.dockyard", "version": "1.0",
            "properties": {"image": TEST_IMAGE, "command": SLEEP_FOREVER}}  # fmt: skip
    assert senlin.post("/v1/profiles", json={"profile": {"name": name, "spec": spec}}).is_success
    with server.client() as zun:
        usage = zun.get("/v1/quotas/default", params={"usages": "True"}).json()
        room = usage["containers"]["in_use"] + 2
        assert zun.put("/v1/quotas/default", json={"containers": room}).status_code == 200
        try:
            body = {"name": name, "profile_id": name, "desired_capacity": "3"}
            assert senlin.post("/v1/clusters", json={"cluster": body}).status_code == 202

            def settled() -> list[dict[str, Any]] | None:
                found = senlin.get("/v1/nodes", params={"cluster_id": name}).json()["nodes"]
                statuses = sorted(n["status"] for n in found)
                return found if statuses == ["ACTIVE", "ACTIVE", "ERROR"] else None

            members = wait_for(settled, 90, 0.5, "two members running and one refused")
            (refused_member,) = [n for n in members if n["status"] == "ERROR"]
            assert "quota" in refused_member["status_reason"].lower(), refused_member
            cluster = senlin.get(f"/v1/clusters/{name}").json()["cluster"]
            assert cluster["status"] in ("WARNING", "ERROR"), cluster
            assert len(containers_of(server, cluster["id"])) == 2
            # Room again: the cluster gets its third member.
            assert zun.put("/v1/quotas/default", json={"containers": room + 1}).status_code == 200
            wait_active(senlin, name, 3)
        finally:
            zun.delete("/v1/quotas/default")
            senlin.delete(f"/v1/clusters/{name}")
            wait_for(lambda: senlin.get(f"/v1/clusters/{name}").status_code == 404, 90, 0.5,
                     f"{name} to be deleted")  # fmt: skip
