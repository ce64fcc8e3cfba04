"""The Neutron v2.0 subset at /network through the real `openstack network|subnet|subnet pool`
commands, and Zun's /v1/networks, against `dockyard serve` (no-auth: the admin of one project).

Each CLI call is a new Python process (seconds on a busy machine), so the tests chain the
calls of one workflow and check the rest over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.neutron import NeutronCli
from tests.support.server import DockyardProcess
from tests.support.zun import assert_zun_error, unique_name


@pytest.fixture(scope="module")
def cli(server: DockyardProcess, tmp_path_factory: pytest.TempPathFactory) -> NeutronCli:
    return NeutronCli(server.url, tmp_path_factory.mktemp("neutron-home"))


def neutron_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    fault = response.json()["NeutronError"]
    assert fault["type"] == kind, fault
    assert fault["message"]
    return str(fault["message"])


def test_version_document_names_v2(server: DockyardProcess) -> None:
    found = httpx.get(f"{server.url}/network/", timeout=10).json()
    assert [v["id"] for v in found["versions"]] == ["v2.0"]
    assert found["versions"][0]["links"][0]["href"].endswith("/network/v2.0/")


def test_kuryr_workflow_network_pool_subnet(cli: NeutronCli, neutron: httpx.Client) -> None:
    net, pool, sub = unique_name("net"), unique_name("pool"), unique_name("sub")
    network = cli.json("network", "create", net)
    assert network["name"] == net
    assert network["mtu"] == 1450
    assert network["status"] == "ACTIVE"
    made = cli.json("subnet", "pool", "create", "--pool-prefix", "10.2.0.0/16", pool)
    assert made["prefixes"] == ["10.2.0.0/16"]
    subnet = cli.json("subnet", "create", "--subnet-pool", pool, "--network", net,
                      "--subnet-range", "10.2.0.0/24", sub)  # fmt: skip
    assert subnet["cidr"] == "10.2.0.0/24"
    assert subnet["gateway_ip"] == "10.2.0.1"
    assert subnet["subnetpool_id"] == made["id"]
    assert subnet["network_id"] == network["id"]
    assert subnet["allocation_pools"] == [{"start": "10.2.0.2", "end": "10.2.0.254"}]
    shown = cli.json("network", "show", net)
    assert shown["subnets"] == [subnet["id"]]
    listed = neutron.get("/subnets", params={"network_id": network["id"]}).json()["subnets"]
    assert [s["id"] for s in listed] == [subnet["id"]]
    # Neutron refuses a second subnet overlapping the first on the same network ...
    error = cli.fails("subnet", "create", "--network", net, "--subnet-range", "10.2.0.128/25",
                      unique_name("overlap"))  # fmt: skip
    assert "overlaps" in error
    # ... and a range outside the pool's prefixes; neither left a subnet behind.
    body = {"subnet": {"network_id": network["id"], "subnetpool_id": made["id"],
                       "cidr": "10.9.0.0/24"}}  # fmt: skip
    neutron_error(neutron.post("/subnets", json=body), 400, "HTTPBadRequest")
    assert len(neutron.get("/subnets", params={"network_id": network["id"]}).json()["subnets"]) == 1
    # A pool with subnets carved from it stays; the network goes with its subnets.
    neutron_error(neutron.delete(f"/subnetpools/{made['id']}"), 409, "Conflict")
    cli.run("network", "delete", net)
    neutron_error(neutron.get(f"/subnets/{subnet['id']}"), 404, "SubnetNotFound")
    cli.run("subnet", "pool", "delete", pool)


def test_pool_carves_the_next_free_prefix(neutron: httpx.Client) -> None:
    pool = neutron.post("/subnetpools", json={"subnetpool": {
        "name": unique_name("carve"), "prefixes": ["10.30.0.0/22"], "default_prefixlen": 24,
    }}).json()["subnetpool"]  # fmt: skip
    cidrs = []
    for _ in range(2):
        net = neutron.post("/networks", json={"network": {"name": unique_name("c")}}).json()
        body = {"subnet": {"network_id": net["network"]["id"], "subnetpool_id": pool["id"]}}
        made = neutron.post("/subnets", json=body)
        assert made.status_code == 201, made.text
        cidrs.append(made.json()["subnet"]["cidr"])
    assert cidrs == ["10.30.0.0/24", "10.30.1.0/24"]


def test_same_cidr_on_two_networks_is_allowed(neutron: httpx.Client) -> None:
    for _ in range(2):
        net = neutron.post("/networks", json={"network": {"name": unique_name("same")}}).json()
        body = {"subnet": {"network_id": net["network"]["id"], "cidr": "10.77.0.0/24"}}
        assert neutron.post("/subnets", json=body).status_code == 201


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        ({"network": {"name": "x", "colour": "red"}}, 400, "HTTPBadRequest"),
        ({"name": "no envelope"}, 400, "HTTPBadRequest"),
        ({"network": {"mtu": 9000}}, 400, "HTTPBadRequest"),
    ],
)
def test_bad_network_bodies_are_neutron_400s(
    neutron: httpx.Client, body: dict[str, object], status: int, kind: str
) -> None:
    before = len(neutron.get("/networks").json()["networks"])
    neutron_error(neutron.post("/networks", json=body), status, kind)
    assert len(neutron.get("/networks").json()["networks"]) == before


def test_bad_subnets_are_400s_and_leave_nothing(neutron: httpx.Client) -> None:
    net = neutron.post("/networks", json={"network": {"name": unique_name("bad")}}).json()
    net_id = net["network"]["id"]
    for cidr in ("10.5.0.1/24", "not-a-cidr", "fd00::/64", "10.5.0.0/31"):
        body = {"subnet": {"network_id": net_id, "cidr": cidr}}
        neutron_error(neutron.post("/subnets", json=body), 400, "HTTPBadRequest")
    body = {"subnet": {"network_id": net_id, "cidr": "10.5.0.0/24", "gateway_ip": "10.6.0.1"}}
    neutron_error(neutron.post("/subnets", json=body), 400, "HTTPBadRequest")
    unknown = {
        "subnet": {"network_id": "8d3e4c84-7fd0-4bd4-b5a9-0fd2a3b8c1aa", "cidr": "10.5.0.0/24"}
    }
    neutron_error(neutron.post("/subnets", json=unknown), 404, "NetworkNotFound")
    assert neutron.get("/subnets", params={"network_id": net_id}).json()["subnets"] == []
    neutron_error(neutron.get("/networks", params={"colour": "red"}), 400, "HTTPBadRequest")


def test_internal_subnet_has_no_gateway(neutron: httpx.Client) -> None:
    net = neutron.post("/networks", json={"network": {"name": unique_name("int")}}).json()
    body = {"subnet": {"network_id": net["network"]["id"], "cidr": "10.8.0.0/29",
                       "gateway_ip": None}}  # fmt: skip
    subnet = neutron.post("/subnets", json=body).json()["subnet"]
    assert subnet["gateway_ip"] is None
    # the last address is kept for the name service on the hosts' bridges
    assert subnet["allocation_pools"] == [{"start": "10.8.0.1", "end": "10.8.0.5"}]


def test_extensions_and_fields(cli: NeutronCli, neutron: httpx.Client) -> None:
    aliases = {e["Alias"] for e in cli.json("extension", "list")}
    assert {"security-group", "subnet_allocation", "external-net"} <= aliases
    neutron.post("/networks", json={"network": {"name": unique_name("f")}})
    rows = neutron.get("/networks", params={"fields": ["id", "name"]}).json()["networks"]
    assert rows
    assert all(set(r) == {"id", "name"} for r in rows)


def test_zun_networks_create_list_show_delete(
    server: DockyardProcess, neutron: httpx.Client
) -> None:
    net = neutron.post("/networks", json={"network": {"name": unique_name("z")}}).json()
    net_id = net["network"]["id"]
    with server.client("1.27") as api:
        made = api.post("/v1/networks", json={"name": "adopted", "neutron_net_id": net_id})
        assert made.status_code == 200, made.text
        view = made.json()
        assert view["neutron_net_id"] == net_id
        assert view["name"] == "adopted"
        assert set(view) == {"uuid", "name", "project_id", "user_id", "network_id",
                             "neutron_net_id"}  # fmt: skip
        assert view["uuid"] in [n["uuid"] for n in api.get("/v1/networks").json()["networks"]]
        assert api.get(f"/v1/networks/{view['uuid']}").json() == view
        # A name alone makes a network of its own, visible through Neutron, gone with it.
        own = api.post("/v1/networks", json={"name": unique_name("own")}).json()
        assert neutron.get(f"/networks/{own['neutron_net_id']}").status_code == 200
        assert api.delete(f"/v1/networks/{own['neutron_net_id']}").status_code == 204
        assert neutron.get(f"/networks/{own['neutron_net_id']}").status_code == 404
        assert api.delete(f"/v1/networks/{view['uuid']}").status_code == 204
        assert neutron.get(f"/networks/{net_id}").status_code == 200  # adopted: it stays
        missing = api.post("/v1/networks", json={"name": "x", "neutron_net_id": "nope"})
        assert_zun_error(missing, 404)
        assert_zun_error(api.post("/v1/networks", json={"neutron_net_id": net_id}), 400)
    with server.client("1.26") as old:
        assert_zun_error(old.delete(f"/v1/networks/{net_id}"), 406)


def test_missing_network_is_neutron_404(neutron: httpx.Client, tmp_path: Path) -> None:
    neutron_error(neutron.get("/networks/8d3e4c84-7fd0-4bd4-b5a9-0fd2a3b8c1aa"), 404,
                  "NetworkNotFound")  # fmt: skip
    neutron_error(neutron.get("/routers"), 404, "HTTPNotFound")
