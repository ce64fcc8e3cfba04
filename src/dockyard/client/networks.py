"""Typed httpx client of Dockyard's networks: the Neutron subset at /network for networks and
subnets, Zun's container actions at /v1 for attach and detach (for `dockyard network`)."""

from __future__ import annotations

from typing import Any

import httpx

from dockyard.client.containers import DEFAULT_TIMEOUT, ApiError, ServerUnreachable

Document = dict[str, Any]


def root_of(base_url: str) -> str:
    """Dockyard's root URL, given with or without /v1."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class NetworksClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.url = root_of(base_url)
        headers = {"OpenStack-API-Version": "container 1.40", "Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=DEFAULT_TIMEOUT)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Document | None = None,
                params: dict[str, str] | None = None) -> Document:  # fmt: skip
        """The JSON answer ({} when there is none); ApiError for an error answer."""
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.url, type(exc).__name__) from None
        if response.is_error:
            raise _error(response)
        result: Document = response.json() if response.content else {}
        return result

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


def _error(response: httpx.Response) -> ApiError:
    """Neutron's fault document (`NeutronError.message`), else Zun's."""
    try:
        body = response.json()
    except ValueError:
        body = None
    fault = body.get("NeutronError") if isinstance(body, dict) else None
    if isinstance(fault, dict) and fault.get("message"):
        return ApiError(response.status_code, str(fault.get("type", "")), str(fault["message"]))
    return ApiError.from_response(response)
