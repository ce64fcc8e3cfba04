"""Containers on tenant networks through the real clients against `dockyard serve`: `openstack
appcontainer run --net …`, `appcontainer network attach|detach`, python-zunclient's
network_list (both shapes), security groups; the containers run on the real engine.

The data plane is the agent's (netplane); these check what the control plane decides and
shows: addresses from the subnet, one port per attachment, 409s, releases.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx
import pytest

from tests.support.neutron import NeutronCli
from tests.support.osc import Osc
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_status
from tests.support.zun import assert_zun_error, remove_container, unique_name
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine


def make_network(neutron: httpx.Client, cidr: str) -> dict[str, Any]:
    net = neutron.post("/networks", json={"network": {"name": unique_name("tn")}})
    network: dict[str, Any] = net.json()["network"]
    body = {"subnet": {"network_id": network["id"], "cidr": cidr}}
    network["subnet"] = neutron.post("/subnets", json=body).json()["subnet"]
    return network


@pytest.fixture(scope="module")
def net(neutron: httpx.Client) -> dict[str, Any]:
    return make_network(neutron, "10.61.0.0/24")


@pytest.fixture(scope="module")
def other(neutron: httpx.Client) -> dict[str, Any]:
    return make_network(neutron, "10.61.0.0/24")  # the same CIDR, another network


def run(http: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {"name": unique_name("cn"), "image": TEST_IMAGE, "command": SLEEP_FOREVER, **extra}
    made = http.post("/v1/containers?run=true", json=body)
    assert made.status_code == 202, made.text
    result: dict[str, Any] = made.json()
    return result


def test_run_on_a_network_with_a_fixed_address(
    osc: Osc, http: httpx.Client, neutron: httpx.Client, net: dict[str, Any],
    server: DockyardProcess,
) -> None:  # fmt: skip
    name = unique_name("fixed")
    osc("run", "--name", name, "--net", f"network={net['name']},v4-fixed-ip=10.61.0.9",
        TEST_IMAGE, *SLEEP_FOREVER)  # fmt: skip
    shown = wait_status(http, name, "Running")
    [entry] = shown["addresses"][net["id"]]
    assert entry["addr"] == "10.61.0.9"
    assert entry["version"] == 4
    assert entry["subnet_id"] == net["subnet"]["id"]
    [port] = neutron.get("/ports", params={"device_id": shown["uuid"]}).json()["ports"]
    assert port["id"] == entry["port"]
    assert port["fixed_ips"] == [{"subnet_id": net["subnet"]["id"], "ip_address": "10.61.0.9"}]
    assert int(port["mac_address"].split(":")[0], 16) & 0b10  # locally administered
    assert shown["security_groups"] == ["default"]
    # network_list in both of Zun's shapes, through python-zunclient
    old = make_client(server.url, "1.13").containers.network_list(shown["uuid"])
    assert [(n.net_id, n.port_id, n.ip_address) for n in old] == [(net["id"], port["id"],
                                                                    "10.61.0.9")]  # fmt: skip
    new = make_client(server.url, "1.18").containers.network_list(shown["uuid"])
    assert new[0].fixed_ips == [{"subnet_id": net["subnet"]["id"], "version": 4,
                                 "ip_address": "10.61.0.9"}]  # fmt: skip
    # The address is taken: a second container asking for it is refused, and not made.
    clash = unique_name("clash")
    body = {"name": clash, "image": TEST_IMAGE,
            "nets": [{"network": net["id"], "v4-fixed-ip": "10.61.0.9"}]}  # fmt: skip
    assert_zun_error(http.post("/v1/containers", json=body), 409)
    assert_zun_error(http.get(f"/v1/containers/{clash}"), 404)
    # In use: neither the Neutron network nor its Zun object can go.
    refused = neutron.delete(f"/networks/{net['id']}")
    assert refused.status_code == 409
    assert refused.json()["NeutronError"]["type"] == "NetworkInUse"
    remove_container(http, shown["uuid"])
    assert neutron.get("/ports", params={"device_id": shown["uuid"]}).json()["ports"] == []


def test_attach_detach_and_the_same_cidr_elsewhere(
    osc: Osc, http: httpx.Client, net: dict[str, Any], other: dict[str, Any],
    server: DockyardProcess,
) -> None:  # fmt: skip
    made = run(http, nets=[{"network": net["id"]}])
    uuid = made["uuid"]
    wait_status(http, uuid, "Running")
    osc("network", "attach", "--network", other["id"], "--fixed-ip", "10.61.0.9", uuid)
    shown = http.get(f"/v1/containers/{uuid}").json()
    assert set(shown["addresses"]) == {net["id"], other["id"]}
    assert shown["addresses"][other["id"]][0]["addr"] == "10.61.0.9"
    first = shown["addresses"][net["id"]][0]["addr"]
    assert ipaddress.ip_address(first) in ipaddress.ip_network("10.61.0.0/24")
    twice = http.post(f"/v1/containers/{uuid}/network_attach", params={"network": other["id"]})
    assert_zun_error(twice, 400)
    missing = http.post(f"/v1/containers/{uuid}/network_attach", params={"network": "nope"})
    assert_zun_error(missing, 404)
    osc("network", "detach", "--network", net["id"], uuid)
    listed = make_client(server.url, "1.40").containers.network_list(uuid)
    assert [n.net_id for n in listed] == [other["id"]]
    assert set(http.get(f"/v1/containers/{uuid}").json()["addresses"]) == {other["id"]}
    not_there = http.post(f"/v1/containers/{uuid}/network_detach", params={"network": net["id"]})
    assert_zun_error(not_there, 400)
    remove_container(http, uuid)


def test_bad_nets_are_400s_and_make_nothing(http: httpx.Client, net: dict[str, Any]) -> None:
    before = len(http.get("/v1/containers").json()["containers"])
    for nets in (
        [{"network": net["id"], "port": "x"}],
        [{"v4-fixed-ip": "10.61.0.3"}],
        [{"network": net["id"], "v4-fixed-ip": "10.62.0.3"}],
        [{"network": net["id"], "v4-fixed-ip": "not-an-ip"}],
        [{"network": net["id"], "v6-fixed-ip": "fd00::3"}],
        [{"network": net["id"], "colour": "red"}],
        [{"network": net["id"]}, {"network": net["id"]}],
    ):
        body = {"image": TEST_IMAGE, "nets": nets}
        assert_zun_error(http.post("/v1/containers", json=body), 400)
    with httpx.Client(base_url=http.base_url, headers={"OpenStack-API-Version": "container 1.1"}
                      ) as old:  # fmt: skip
        body = {"image": TEST_IMAGE, "nets": [{"network": net["id"]}]}
        assert_zun_error(old.post("/v1/containers", json=body), 400)
    assert len(http.get("/v1/containers").json()["containers"]) == before


def test_default_network_and_security_groups(
    http: httpx.Client, neutron: httpx.Client, server: DockyardProcess
) -> None:
    plain = run(http, security_groups=["default"])  # what zunclient sends by default
    shown = wait_status(http, plain["uuid"], "Running")
    [(net_id, [entry])] = shown["addresses"].items()
    default = neutron.get(f"/networks/{net_id}").json()["network"]
    assert default["name"] == "default"
    assert ipaddress.ip_address(entry["addr"]) in ipaddress.ip_network("10.224.0.0/16")
    assert shown["security_groups"] == ["default"]
    groups = neutron.get("/security-groups", params={"name": "default"}).json()
    rules = groups["security_groups"][0]["security_group_rules"]
    ingress = [r for r in rules if r["direction"] == "ingress"]
    assert {r["remote_group_id"] for r in ingress} == {groups["security_groups"][0]["id"]}
    unknown = http.post("/v1/containers", json={"image": TEST_IMAGE, "security_groups": ["x"]})
    assert_zun_error(unknown, 404)
    # exposed_ports: a group of the container's own opens them to everyone
    exposed = run(http, exposed_ports={"8080/tcp": {}})
    names = wait_status(http, exposed["uuid"], "Running")["security_groups"]
    assert "default" in names
    [own] = [n for n in names if n != "default"]
    group = neutron.get("/security-groups", params={"name": own}).json()["security_groups"][0]
    opened = [r for r in group["security_group_rules"] if r["direction"] == "ingress"]
    assert [(r["protocol"], r["port_range_min"], r["remote_ip_prefix"]) for r in opened] == [
        ("tcp", 8080, "0.0.0.0/0")]  # fmt: skip
    both = {"image": TEST_IMAGE, "security_groups": ["default"], "exposed_ports": {"80": {}}}
    assert_zun_error(http.post("/v1/containers", json=both), 400)
    remove_container(http, exposed["uuid"])
    assert neutron.get(f"/security-groups/{group['id']}").status_code == 404  # went with it
    _add_and_remove_security_group(server, neutron, plain["uuid"])
    remove_container(http, plain["uuid"])


def _add_and_remove_security_group(
    server: DockyardProcess, neutron: httpx.Client, uuid: str
) -> None:
    name = unique_name("sg")
    made = neutron.post("/security-groups", json={"security_group": {"name": name}})
    group_id = made.json()["security_group"]["id"]
    with server.client("1.14") as old:
        assert old.post(f"/v1/containers/{uuid}/add_security_group", params={"name": name}
                        ).status_code == 202  # fmt: skip
        assert old.get(f"/v1/containers/{uuid}").json()["security_groups"] == ["default", name]
        [port] = neutron.get("/ports", params={"device_id": uuid}).json()["ports"]
        assert group_id in port["security_groups"]
        in_use = neutron.delete(f"/security-groups/{group_id}")
        assert in_use.json()["NeutronError"]["type"] == "SecurityGroupInUse"
        again = old.post(f"/v1/containers/{uuid}/add_security_group", params={"name": name})
        assert_zun_error(again, 400)
        assert old.post(f"/v1/containers/{uuid}/remove_security_group", params={"name": name}
                        ).status_code == 202  # fmt: skip
        assert old.get(f"/v1/containers/{uuid}").json()["security_groups"] == ["default"]
    with server.client("1.15") as new:
        gone = new.post(f"/v1/containers/{uuid}/add_security_group", params={"name": name})
        assert_zun_error(gone, 406)
    assert neutron.delete(f"/security-groups/{group_id}").status_code == 204


def test_security_group_cli(tmp_path_factory: pytest.TempPathFactory,
                            server: DockyardProcess) -> None:  # fmt: skip
    cli = NeutronCli(server.url, tmp_path_factory.mktemp("sg-home"))
    name = unique_name("web")
    cli.json("security", "group", "create", name)
    rule = cli.json("security", "group", "rule", "create", "--protocol", "tcp",
                    "--dst-port", "80", name)  # fmt: skip
    assert (rule["port_range_min"], rule["port_range_max"], rule["protocol"]) == (80, 80, "tcp")
    assert "already exists" in cli.fails("security", "group", "rule", "create", "--protocol",
                                         "tcp", "--dst-port", "80", name)  # fmt: skip
    shown = cli.json("security", "group", "show", name)
    assert len(shown["rules"]) == 3  # two egress, and ours
    cli.run("security", "group", "rule", "delete", rule["id"])
    cli.run("security", "group", "delete", name)
    assert "default" in [g["Name"] for g in cli.json("security", "group", "list")]
