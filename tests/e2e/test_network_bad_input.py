"""Bad network input is a clear 4xx in the API's own error format (Zun's on /v1, Neutron's on
/network) and leaves nothing half made: no container, no port, no subnet, no address held.

Covers what test_container_networks does not: an unknown network on create, a bad or taken
fixed IP on attach, overlapping subnets on one network (Neutron's InvalidInput), Zun's
network object in use, and an address free again once its container is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_gone, wait_status
from tests.support.zun import assert_zun_error, container_uuids, unique_name

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def api(server: DockyardProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def make_network(neutron: httpx.Client, cidr: str) -> dict[str, Any]:
    made = neutron.post("/networks", json={"network": {"name": unique_name("bad")}})
    assert made.status_code == 201, made.text
    network: dict[str, Any] = made.json()["network"]
    subnet = neutron.post("/subnets", json={"subnet": {"network_id": network["id"],
                                                       "cidr": cidr}})  # fmt: skip
    assert subnet.status_code == 201, subnet.text
    network["subnet"] = subnet.json()["subnet"]
    return network


def create(api: httpx.Client, *nets: dict[str, str]) -> dict[str, Any]:
    body = {"name": unique_name("bad"), "image": TEST_IMAGE, "command": SLEEP_FOREVER,
            "nets": list(nets)}  # fmt: skip
    made = api.post("/v1/containers", json=body)
    assert made.status_code == 202, made.text
    return wait_status(api, made.json()["uuid"], "Created")


def remove(api: httpx.Client, uuid: str) -> None:
    assert api.delete(f"/v1/containers/{uuid}").status_code == 204
    wait_gone(api, uuid)


def ports(neutron: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = neutron.get("/ports", params=filters).json()["ports"]
    return found


def attach(api: httpx.Client, uuid: str, network: str, fixed_ip: str | None = None) -> Any:
    params = {"network": network, **({"fixed_ip": fixed_ip} if fixed_ip else {})}
    return api.post(f"/v1/containers/{uuid}/network_attach", params=params)


def test_an_unknown_network_on_create_is_a_zun_404_that_makes_nothing(
    api: httpx.Client, neutron: httpx.Client
) -> None:
    before, ports_before = container_uuids(api), len(ports(neutron))
    for network in ("no-such-network", "6c0b8f0e-58a6-4c8e-9d0c-5a0f4b1f7e21"):
        body = {"name": unique_name("bad"), "image": TEST_IMAGE, "nets": [{"network": network}]}
        assert_zun_error(api.post("/v1/containers", json=body), 404, "container.network-not-found")
    assert container_uuids(api) == before
    assert len(ports(neutron)) == ports_before


def test_a_bad_or_taken_fixed_ip_on_attach_changes_nothing(
    api: httpx.Client, neutron: httpx.Client
) -> None:
    home, extra = make_network(neutron, "10.67.0.0/24"), make_network(neutron, "10.68.0.0/24")
    first = create(api, {"network": home["id"]})
    second = create(api, {"network": home["id"]})
    assert attach(api, first["uuid"], extra["id"], "10.68.0.5").status_code == 200
    shown = api.get(f"/v1/containers/{second['uuid']}").json()
    for network, fixed_ip, status in (
        (extra["id"], "10.69.0.3", 400),  # outside every subnet of the network
        (extra["id"], "10.68.0.0", 400),  # the subnet's own address
        (extra["id"], "10.68.0.1", 400),  # its gateway
        (extra["id"], "10.68.0.5", 409),  # the first container holds it
        ("no-such-network", None, 404),
    ):
        assert_zun_error(attach(api, second["uuid"], network, fixed_ip), status)
        assert api.get(f"/v1/containers/{second['uuid']}").json()["addresses"] == shown[
            "addresses"]  # fmt: skip
    assert ports(neutron, network_id=extra["id"], device_id=second["uuid"]) == []
    [held] = ports(neutron, network_id=extra["id"])
    assert held["device_id"] == first["uuid"]
    # attaching the same network twice is refused too, and leaves the one port
    assert_zun_error(attach(api, first["uuid"], extra["id"]), 400)
    assert len(ports(neutron, device_id=first["uuid"])) == 2
    for made in (first, second):
        remove(api, made["uuid"])
    assert ports(neutron, network_id=extra["id"]) == []


def test_overlapping_subnets_on_one_network_are_neutron_400s(neutron: httpx.Client) -> None:
    network = make_network(neutron, "10.70.0.0/24")
    for cidr in ("10.70.0.0/24", "10.70.0.128/25", "10.70.0.0/16"):
        refused = neutron.post("/subnets", json={"subnet": {"network_id": network["id"],
                                                            "cidr": cidr}})  # fmt: skip
        assert refused.status_code == 400, refused.text
        fault = refused.json()["NeutronError"]
        assert fault["type"] == "InvalidInput"
        assert "overlaps with another subnet" in fault["message"]
    listed = neutron.get("/subnets", params={"network_id": network["id"]}).json()["subnets"]
    assert [s["cidr"] for s in listed] == ["10.70.0.0/24"]
    # a range of its own is a second subnet of the same network, as in Neutron
    other = neutron.post("/subnets", json={"subnet": {"network_id": network["id"],
                                                      "cidr": "10.71.0.0/24"}})  # fmt: skip
    assert other.status_code == 201, other.text
    assert neutron.delete(f"/networks/{network['id']}").status_code == 204


def test_zun_network_in_use_is_a_zun_409_until_its_container_goes(
    server: DockyardProcess, api: httpx.Client, neutron: httpx.Client
) -> None:
    network = make_network(neutron, "10.72.0.0/24")
    with server.client("1.27") as new:
        made = new.post("/v1/networks", json={"name": unique_name("zn"),
                                              "neutron_net_id": network["id"]})  # fmt: skip
        assert made.status_code == 200, made.text
        container = create(api, {"network": network["id"]})
        in_use = new.delete(f"/v1/networks/{network['id']}")
        assert_zun_error(in_use, 409, "container.network-in-use")
        assert new.get(f"/v1/networks/{made.json()['uuid']}").status_code == 200
        remove(api, container["uuid"])
        assert new.delete(f"/v1/networks/{network['id']}").status_code == 204
    assert neutron.delete(f"/networks/{network['id']}").status_code == 204


def test_a_deleted_containers_address_is_free_for_the_next(
    api: httpx.Client, neutron: httpx.Client
) -> None:
    network = make_network(neutron, "10.73.0.0/24")
    wanted = {"network": network["id"], "v4-fixed-ip": "10.73.0.9"}
    first = create(api, wanted)
    body = {"name": unique_name("bad"), "image": TEST_IMAGE, "nets": [wanted]}
    assert_zun_error(api.post("/v1/containers", json=body), 409)
    remove(api, first["uuid"])
    assert ports(neutron, network_id=network["id"]) == []
    second = create(api, wanted)
    assert second["addresses"][network["id"]][0]["addr"] == "10.73.0.9"
    remove(api, second["uuid"])
    assert neutron.delete(f"/networks/{network['id']}").status_code == 204
