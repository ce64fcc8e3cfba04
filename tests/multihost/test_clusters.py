"""Clusters on the many-host bed (three real engines, zones az-a and az-b, two API replicas
on PostgreSQL whose controllers share the clusters by lease): placement policies, made and
attached through openstacksdk's clustering proxy, decide where members run."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from tests.support.multihost import Bed
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for, wait_status
from tests.support.zun import unique_name

# openstacksdk 4.x warns about its own deprecations, not about anything done here.
pytestmark = pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")

SPEC = {"type": "container.dockyard", "version": "1.0",
        "properties": {"image": TEST_IMAGE, "command": SLEEP_FOREVER, "cpu": 0.1}}  # fmt: skip


@pytest.fixture
def senlin(bed: Bed) -> Iterator[httpx.Client]:
    """The clustering API of replica 2 (replica 1 serves the Zun API in `api`)."""
    headers = {"OpenStack-API-Version": "clustering 1.14"}
    with httpx.Client(base_url=f"{bed.apis[1].url}/cluster", headers=headers, timeout=30) as c:
        yield c


@pytest.fixture
def conn(bed: Bed) -> Iterator[Connection]:
    """openstacksdk's clustering proxy on replica 2's /cluster."""
    connection = openstack.connect(
        auth_type="none", auth={"endpoint": f"{bed.apis[1].url}/cluster"},
        load_yaml_config=False, load_envvars=False,
    )  # fmt: skip
    yield connection
    connection.close()


def cluster_hosts(
    conn: Connection, senlin: httpx.Client, api: httpx.Client, policy: dict[str, Any], size: int
) -> list[str]:
    """Make a cluster of `size` with `policy` attached first, through openstacksdk's
    clustering proxy; where its members run."""
    name = unique_name("mh")
    profile = conn.clustering.create_profile(name=name, spec=SPEC)
    placement = conn.clustering.create_policy(name=name, spec=policy)
    cluster = conn.clustering.create_cluster(name=name, profile_id=profile.id, desired_capacity=0)
    conn.clustering.wait_for_status(cluster, "ACTIVE", failures=["ERROR"], interval=1, wait=60)
    conn.clustering.attach_policy_to_cluster(cluster, placement.id, enabled=True)
    wait_for(lambda: list(conn.clustering.cluster_policies(cluster.id)), 30, 0.3, "the binding")
    conn.clustering.resize_cluster(cluster, adjustment_type="EXACT_CAPACITY", number=size)
    try:
        hosts: list[str] = wait_for(lambda: _running_hosts(senlin, api, name, size), 120, 0.5,
                                    f"{size} members of {name} to run")  # fmt: skip
        return hosts
    finally:
        conn.clustering.delete_cluster(cluster)
        wait_for(lambda: conn.clustering.find_cluster(cluster.id) is None, 90, 0.5,
                 f"{name} to be deleted")  # fmt: skip


def _running_hosts(
    senlin: httpx.Client, api: httpx.Client, name: str, size: int
) -> list[str] | None:
    nodes = senlin.get("/v1/nodes", params={"cluster_id": name}).json()["nodes"]
    if len(nodes) != size or any(n["status"] != "ACTIVE" for n in nodes):
        return None
    shown = [api.get(f"/v1/containers/{n['physical_id']}").json() for n in nodes]
    return [c["host"] for c in shown if c["status"] == "Running"] or None


def test_zone_placement_spreads_members_over_zones_by_weight(
    bed: Bed, api: httpx.Client, senlin: httpx.Client, conn: Connection
) -> None:
    policy = {"type": "senlin.policy.zone_placement", "version": "1.0",
              "properties": {"zones": [{"name": "az-a", "weight": 50},
                                       {"name": "az-b", "weight": 50}]}}  # fmt: skip
    hosts = cluster_hosts(conn, senlin, api, policy, 4)
    zone_of = {h.name: h.availability_zone for h in bed.hosts}
    assert Counter(zone_of[h] for h in hosts) == Counter({"az-a": 2, "az-b": 2})


def test_anti_affinity_puts_each_member_on_its_own_host(
    bed: Bed, api: httpx.Client, senlin: httpx.Client, conn: Connection
) -> None:
    policy = {"type": "senlin.policy.affinity", "version": "1.0",
              "properties": {"servergroup": {"policies": "anti-affinity"}}}  # fmt: skip
    hosts = cluster_hosts(conn, senlin, api, policy, 3)
    assert sorted(hosts) == sorted(h.name for h in bed.hosts)


def test_low_cpu_placement_goes_by_the_cpu_containers_use_not_what_they_claim(
    bed: Bed, api: httpx.Client, senlin: httpx.Client, conn: Connection
) -> None:
    # Claims say the middle host is the emptiest; its agent sees its one container spin (a
    # quarter of a CPU), while the others' large claims sleep.
    idle, busy, other = (h.name for h in bed.hosts)
    spin = ["sh", "-c", "trap 'exit 0' TERM; while :; do :; done"]
    for host, cpu, command in ((idle, 1.0, SLEEP_FOREVER), (busy, 0.25, spin),
                               (other, 1.0, SLEEP_FOREVER)):  # fmt: skip
        body = {"name": unique_name("load"), "image": TEST_IMAGE, "command": command,
                "cpu": cpu, "host": host}  # fmt: skip
        made = api.post("/v1/containers?run=true", json=body)
        assert made.status_code == 202, made.text
        wait_status(api, made.json()["uuid"], "Running")
    claimed = {h["hostname"]: h["cpu_used"] for h in bed.list_hosts()}
    assert claimed[busy] < min(claimed[idle], claimed[other])

    def seen() -> bool:
        used = bed.cpu_observed()
        quiet = [used[h] for h in (idle, other)]
        return (used[busy] or 0) > 0.1 and all(u is not None and u < 0.05 for u in quiet)

    wait_for(seen, 30, 0.5, "the agents to report what their containers use")
    policy = {"type": "dockyard.policy.low_cpu_placement", "version": "1.0", "properties": {}}
    hosts = cluster_hosts(conn, senlin, api, policy, 2)
    assert busy not in hosts, (hosts, bed.cpu_observed())


def test_members_of_a_host_that_goes_down_are_recovered_elsewhere(
    bed: Bed, api: httpx.Client, senlin: httpx.Client
) -> None:
    policy = {"type": "senlin.policy.health", "version": "1.1",
              "properties": {"detection": {"interval": 1,
                                           "detection_modes": [{"type": "NODE_STATUS_POLLING"}]},
                             "recovery": {"actions": [{"name": "RECREATE"}]}}}  # fmt: skip
    name = unique_name("down")
    assert senlin.post("/v1/profiles", json={"profile": {"name": name, "spec": SPEC}}).is_success
    assert senlin.post("/v1/policies", json={"policy": {"name": name, "spec": policy}}).is_success
    body = {"name": name, "profile_id": name, "desired_capacity": 2}
    assert senlin.post("/v1/clusters", json={"cluster": body}).status_code == 202
    attach = {"policy_attach": {"policy_id": name}}
    assert senlin.post(f"/v1/clusters/{name}/actions", json=attach).status_code == 202
    before = wait_for(lambda: _running_hosts(senlin, api, name, 2), 90, 0.5, "two members")
    lost = next(h for h in bed.hosts if h.name == before[0])
    lost.stop_agent(signal.SIGKILL)  # its engine keeps running; its heartbeat stops
    try:

        def recovered() -> list[str] | None:
            # Both running, neither on the lost host (one may look healthy a moment after
            # the host stopped: the API shows it Unknown before the controller sees it).
            hosts = _running_hosts(senlin, api, name, 2)
            return hosts if hosts and len(hosts) == 2 and lost.name not in hosts else None

        wait_for(recovered, 90, 0.5, f"the members on {lost.name} to be recreated elsewhere")
    finally:
        lost.start_agent(bed)
        bed.wait_hosts_up(len(bed.hosts))
        assert senlin.delete(f"/v1/clusters/{name}").status_code == 202
        wait_for(lambda: senlin.get(f"/v1/clusters/{name}").status_code == 404, 90, 0.5,
                 f"{name} to be deleted")  # fmt: skip
