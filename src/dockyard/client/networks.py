"""Typed httpx client of Dockyard's networks: the Neutron subset at /network for networks and
subnets, Zun's container actions at /v1 for attach and detach (for `dockyard network`)."""

from __future__ import annotations

from dockyard.client.containers import ApiError
from dockyard.client.openstackapi import Document, OpenStackApiClient, root_of


class NetworksClient(OpenStackApiClient):
    fault_key = "NeutronError"

    def __init__(self, base_url: str, token: str | None = None) -> None:
        super().__init__(root_of(base_url), "container 1.40", token)

    def find(self, ident: str) -> Document:
        """A network by id or unique name (as the OpenStack client finds it)."""
        by_name = self.request("GET", "/network/v2.0/networks", params={"name": ident})
        found = by_name["networks"] or [
            n for n in self.list_networks() if n["id"] == ident
        ]  # fmt: skip
        if len(found) != 1:
            what = "No network" if not found else "More than one network"
            raise ApiError(404 if not found else 409, "", f"{what} named {ident}.")
        return dict(found[0])

    def list_networks(self) -> list[Document]:
        return list(self.request("GET", "/network/v2.0/networks")["networks"])

    def subnets(self, network_id: str) -> list[Document]:
        found = self.request("GET", "/network/v2.0/subnets", params={"network_id": network_id})
        return list(found["subnets"])

    def create(self, name: str, cidr: str, gateway: bool) -> Document:
        """A network and its one subnet; the network goes again if the subnet is refused."""
        network = self.request("POST", "/network/v2.0/networks", {"network": {"name": name}})
        net_id = network["network"]["id"]
        subnet: Document = {"network_id": net_id, "cidr": cidr, "name": name}
        if not gateway:
            subnet["gateway_ip"] = None
        try:
            self.request("POST", "/network/v2.0/subnets", {"subnet": subnet})
        except ApiError:
            self.request("DELETE", f"/network/v2.0/networks/{net_id}")
            raise
        return self.find(net_id)

    def delete(self, network_id: str) -> None:
        self.request("DELETE", f"/network/v2.0/networks/{network_id}")

    def attach(self, container: str, network: str, fixed_ip: str | None) -> None:
        params = {"network": network, **({"fixed_ip": fixed_ip} if fixed_ip else {})}
        self.request("POST", f"/v1/containers/{container}/network_attach", params=params)

    def detach(self, container: str, network: str) -> None:
        params = {"network": network}
        self.request("POST", f"/v1/containers/{container}/network_detach", params=params)
