"""Standalone nodes (made without a cluster) through the real `openstack cluster …` CLI: their
container, adding them to a cluster, replacing members with them, deleting them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.clustering import (
    delete_cluster,
    nodes,
    profile,
    wait_active,
)
from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine


def container(server: DockyardProcess, uuid: str) -> dict[str, Any] | None:
    with server.client() as zun:
        found = zun.get(f"/v1/containers/{uuid}")
    return found.json() if found.status_code == 200 else None


def standalone(cli: SenlinCli, senlin: httpx.Client, profile_name: str, name: str) -> Any:
    """`cluster node create` without a cluster; the node once it is ACTIVE."""
    created = cli.json("node", "create", "--profile", profile_name, name)
    assert created["cluster_id"] in ("", None)

    def active() -> Any:
        shown = senlin.get(f"/v1/nodes/{name}").json()["node"]
        return shown if shown["status"] == "ACTIVE" else None

    return wait_for(active, 60, 0.3, f"{name} ACTIVE")


def test_standalone_nodes_join_replace_and_go(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess
) -> None:
    name = unique_name("sn")
    profile(cli, f"{name}-p")
    other = profile(cli, f"{name}-q")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "1", name)
    (first,) = wait_active(senlin, name, 1)
    n1 = standalone(cli, senlin, f"{name}-p", f"{name}-n1")
    shown = container(server, n1["physical_id"])
    assert shown is not None
    assert shown["status"] == "Running"

    cli.run("members", "add", "--nodes", f"{name}-n1", name)
    members = wait_active(senlin, name, 2)
    assert n1["id"] in {n["id"] for n in members}
    assert senlin.get(f"/v1/clusters/{name}").json()["cluster"]["desired_capacity"] == 2

    n2 = standalone(cli, senlin, f"{name}-p", f"{name}-n2")
    cli.run("members", "replace", "--nodes", f"{first['id']}={name}-n2", name)

    def replaced() -> bool:
        ids = {n["id"] for n in nodes(senlin, name)}
        return ids == {n1["id"], n2["id"]} and container(server, first["physical_id"]) is None

    wait_for(replaced, 60, 0.3, "the first member replaced by n2")
    wait_active(senlin, name, 2)

    # A node of another profile, or one already in a cluster, cannot join: 400s.
    n3 = standalone(cli, senlin, f"{name}-q", f"{name}-n3")
    assert n3["profile_id"] == other
    for bad, why in ((f"{name}-n3", "not of the cluster's profile"),
                     (f"{name}-n1", "already in a cluster")):  # fmt: skip
        done = cli.run("members", "add", "--nodes", bad, name, check=False)
        assert why in done.stdout + done.stderr  # the CLI prints Senlin's error (and exits 0)
        assert "400" in done.stdout + done.stderr
    body = {"add_nodes": {"nodes": [f"{name}-n3"]}}
    refused = senlin.post(f"/v1/clusters/{name}/actions", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == 400

    cli.run("node", "delete", "--force", f"{name}-n3")
    wait_for(lambda: container(server, n3["physical_id"]) is None, 60, 0.3, "n3's container")
    assert senlin.get(f"/v1/nodes/{name}-n3").status_code == 404
    delete_cluster(cli, server, senlin, name)
    assert container(server, n1["physical_id"]) is None


def test_adopt_an_existing_container_and_add_it_to_a_cluster(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess
) -> None:
    name = unique_name("ad")
    body = {"name": name, "image": TEST_IMAGE, "command": SLEEP_FOREVER,
            "environment": {"COLOUR": "blue"}, "cpu": 0.1, "memory": 32}  # fmt: skip
    with server.client() as zun:
        made = zun.post("/v1/containers", params={"run": "true"}, json=body)
        assert made.status_code == 202, made.text
    uuid = made.json()["uuid"]
    wait_for(lambda: (container(server, uuid) or {}).get("status") == "Running", 60, 0.3,
             "the container running")  # fmt: skip

    preview = cli.json("node", "adopt", "--identity", name, "--type", "container.dockyard-1.0",
                       "--preview", "--overrides", '{"memory": 64}')  # fmt: skip
    text = json.dumps(preview)
    assert "blue" in text
    assert TEST_IMAGE in text
    assert "64" in text
    assert senlin.get(f"/v1/nodes/{name}-n").status_code == 404  # a preview makes nothing

    adopted = cli.json("node", "adopt", "--identity", uuid, "--type", "container.dockyard-1.0",
                       "--name", f"{name}-n")  # fmt: skip
    assert adopted["physical_id"] == uuid
    assert adopted["status"] == "ACTIVE"
    profile = senlin.get(f"/v1/profiles/prof-{name}-n").json()["profile"]
    assert profile["spec"]["properties"]["environment"] == {"COLOUR": "blue"}

    again = {"identity": uuid, "type": "container.dockyard-1.0", "name": f"{name}-again"}
    refused = senlin.post("/v1/nodes/adopt", json=again)
    assert refused.status_code == 400
    assert "already a node" in refused.json()["error"]["message"]
    wrong = senlin.post("/v1/nodes/adopt-preview", json={**again, "type": "nope-1.0"})
    assert wrong.status_code == 400

    cluster = {"name": name, "profile_id": f"prof-{name}-n", "desired_capacity": 0}
    assert senlin.post("/v1/clusters", json={"cluster": cluster}).status_code == 202
    wait_for(lambda: senlin.get(f"/v1/clusters/{name}").json()["cluster"]["status"] == "ACTIVE",
             60, 0.3, "the empty cluster ACTIVE")  # fmt: skip
    cli.run("members", "add", "--nodes", f"{name}-n", name)
    (member,) = wait_active(senlin, name, 1)
    assert member["physical_id"] == uuid  # the same container, now a member
    delete_cluster(cli, server, senlin, name)
    assert container(server, uuid) is None
