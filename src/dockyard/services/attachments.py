"""Attachments of containers and capsules to tenant networks: one port (an address and a MAC
taken centrally) per network; Zun's `nets`, `addresses` and network_list shapes.

Functions here run inside the caller's transaction, so an attachment and the object it
belongs to are made (or refused) together: nothing half made.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, ip_network
from typing import Any

from dockyard.db.engine import Session
from dockyard.db.networks_tables import NetworkRow, PortRow, SubnetRow
from dockyard.db.repositories.networks import NetworkRepository, SubnetRepository
from dockyard.db.repositories.ports import PortRepository
from dockyard.db.tables import new_uuid
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import (
    InvalidValue,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
    NetworkNotFound,
    PortNotFound,
)
from dockyard.services import ipam
from dockyard.services.networks import default_network

NET_KEYS = {"network", "port", "v4-fixed-ip", "v6-fixed-ip"}
_SCAN_LIMIT = 1024  # subnets up to this size take the lowest free address, as Neutron does
_PROBES = 32


def parse_nets(nets: Sequence[Any] | None) -> list[dict[str, str]]:
    """Zun's `nets` entries checked: exactly one of network/port, IPv4 only; empty values
    (the api-ref sample sends them) count as absent."""
    found = []
    for entry in nets or []:
        if not isinstance(entry, dict) or set(entry) - NET_KEYS:
            raise InvalidValue(f"Invalid nets entry {entry!r}: use keys {sorted(NET_KEYS)}.")
        given = {k: str(v) for k, v in entry.items() if v not in (None, "")}
        if ("network" in given) == ("port" in given):
            raise InvalidValue(f"Invalid nets entry {entry!r}: give exactly one of network, port.")
        if "v6-fixed-ip" in given:
            raise InvalidValue("IPv6 addresses (v6-fixed-ip) are not supported here.")
        if "v4-fixed-ip" in given:
            ipam.address_of(given["v4-fixed-ip"], "v4-fixed-ip")
        found.append(given)
    return found


async def network_for(session: Session, project_id: str, ident: str) -> NetworkRow:
    """A network the project may attach to (its own or a shared one), by uuid or name;
    another project's is a 404, as if it did not exist."""
    repo = NetworkRepository(session, TenantScope(project_id))
    found = await repo.find_by_name_or_id(ident)
    if found is None:
        raise NetworkNotFound(ident=ident)
    return found


@dataclass(frozen=True)
class LockedNetworks:
    """The networks lock_addresses read and locked, so that the ports made next neither
    read them again nor take their locks twice (a create's transaction is on the POST's
    path: each statement costs milliseconds)."""

    named: dict[str, NetworkRow] = field(default_factory=dict)  # by the `nets` ident
    default: NetworkRow | None = None


async def attach(
    session: Session, project_id: str, owner: dict[str, str], entry: dict[str, str],
    groups: list[str], locked: LockedNetworks | None = None,
) -> PortRow:  # fmt: skip
    """One new port for owner ({"container_uuid": …} or {"capsule_uuid": …}) per `nets`
    entry; a named port must be the project's and free."""
    if "port" in entry:
        port = await PortRepository(session, TenantScope(project_id)).find(entry["port"])
        if port is None:
            raise PortNotFound(ident=entry["port"])
        raise InvalidValue(f"Port {port.uuid} is in use by another container.")
    network = locked.named.get(entry["network"]) if locked is not None else None
    if network is None:
        network = await network_for(session, project_id, entry["network"])
    fixed_ip = entry.get("v4-fixed-ip")
    return await new_port(session, project_id, network, owner, fixed_ip, groups, locked is not None)


async def attach_default(
    session: Session, project_id: str, owner: dict[str, str], groups: list[str],
    locked: LockedNetworks | None = None,
) -> PortRow:  # fmt: skip
    network = locked.default if locked is not None else None
    if network is None:
        network = await default_network(session, project_id)
    return await new_port(session, project_id, network, owner, None, groups, locked is not None)


async def lock_addresses(session: Session, project_id: str, entries: list[dict[str, str]],
                         default: bool = False) -> LockedNetworks:  # fmt: skip
    """Take the address locks of every network the entries (and the default network) name,
    before any port is made: in one order, so two creates naming the same networks in
    other orders never deadlock. Without them, two creates on PostgreSQL would both read
    the same address as free; the loser would meet the ports' unique (subnet, address).
    Returns the networks, for attach and attach_default."""
    named = {e["network"]: await network_for(session, project_id, e["network"])
             for e in entries if "network" in e}  # fmt: skip
    found = await default_network(session, project_id) if default else None
    networks = [n.uuid for n in named.values()] + ([found.uuid] if found is not None else [])
    repo = SubnetRepository(session, TenantScope.all_projects())
    await repo.lock_networks(sorted(set(networks)))
    return LockedNetworks(named, found)


async def new_port(
    session: Session, project_id: str, network: NetworkRow, owner: dict[str, str],
    fixed_ip: str | None, groups: list[str], locked: bool = False,
) -> PortRow:  # fmt: skip
    """A port with a free address (or `fixed_ip`); the network's subnets are locked first
    (again, unless the caller did: `locked`, by lock_addresses)."""
    repo = SubnetRepository(session, TenantScope.all_projects())
    if not locked:
        await repo.lock_networks([network.uuid])
    subnets = [s for s in await repo.of_network(network.uuid) if s.ip_version == 4]
    if not subnets:
        raise InvalidValue(f"Network {network.uuid} has no IPv4 subnet to take an address from.")
    ports = PortRepository(session, TenantScope.all_projects())
    if fixed_ip is not None:
        subnet, ip = await _fixed(ports, subnets, fixed_ip, network.uuid)
    else:
        subnet, ip = await _free(ports, subnets, network.uuid)
    port = PortRow(
        uuid=new_uuid(), project_id=project_id, network_uuid=network.uuid,
        subnet_uuid=subnet.uuid, ip_address=ip, mac_address=ipam.new_mac(),
        security_groups=list(groups), fixed=fixed_ip is not None, **owner,
    )  # fmt: skip
    session.add(port)
    await session.flush()
    return port


async def _fixed(
    ports: PortRepository, subnets: list[SubnetRow], ip: str, network: str
) -> tuple[SubnetRow, str]:
    address = ipam.address_of(ip, "fixed_ip")
    for subnet in subnets:
        net = ip_network(subnet.cidr)
        if address not in net:
            continue
        reserved = {net.network_address, net.broadcast_address}
        if address in reserved or str(address) in (subnet.gateway_ip, _service_ip(subnet)):
            raise InvalidValue(f"IP address {ip} is reserved on subnet {subnet.uuid}.")
        if await ports.address_taken(subnet.uuid, str(address)):
            raise IpAddressAlreadyAllocated(ip=ip, subnet=subnet.uuid)
        return subnet, str(address)
    raise InvalidValue(f"IP address {ip} is not in any subnet of network {network}.")


async def _free(
    ports: PortRepository, subnets: list[SubnetRow], network: str
) -> tuple[SubnetRow, str]:
    """The lowest free address of a small subnet; a random free one of a large subnet (one
    indexed probe each, so a create costs the same with 10 or 50 000 addresses taken)."""
    for subnet in subnets:
        size = sum(int(IPv4Address(p["end"])) - int(IPv4Address(p["start"])) + 1
                   for p in subnet.allocation_pools)  # fmt: skip
        if size > _SCAN_LIMIT:
            for _ in range(_PROBES):
                candidate = _random_address(subnet.allocation_pools, size)
                if not await ports.address_taken(subnet.uuid, candidate):
                    return subnet, candidate
        found = ipam.free_address(subnet.allocation_pools, await ports.used_addresses(subnet.uuid))
        if found is not None:
            return subnet, found
    raise IpAddressGenerationFailure(ident=network)


def _random_address(pools: list[dict[str, str]], size: int) -> str:
    index = random.randrange(size)  # noqa: S311 - spreading addresses, not a secret
    for pool in pools:
        start, end = int(IPv4Address(pool["start"])), int(IPv4Address(pool["end"]))
        if index <= end - start:
            return str(IPv4Address(start + index))
        index -= end - start + 1
    raise AssertionError("index beyond the pools")


def _service_ip(subnet: SubnetRow) -> str | None:
    """An internal subnet's (no gateway) address for the hosts' name service."""
    return None if subnet.gateway_ip else ipam.service_address(subnet.cidr)


def addresses_of(ports: Sequence[PortRow]) -> dict[str, list[dict[str, Any]]] | None:
    """Zun's `addresses`: network uuid → one entry per port on it."""
    if not ports:
        return None
    found: dict[str, list[dict[str, Any]]] = {}
    for port in ports:
        found.setdefault(port.network_uuid, []).append({
            "addr": port.ip_address, "version": 4, "port": port.uuid,
            "subnet_id": port.subnet_uuid, "preserve_on_delete": port.fixed,
        })  # fmt: skip
    return found


def network_list_of(ports: Sequence[PortRow], new_shape: bool) -> list[dict[str, Any]]:
    """network_list rows: one per address before 1.18, one per port with fixed_ips after."""
    if new_shape:
        return [
            {"net_id": p.network_uuid, "port_id": p.uuid, "fixed_ips": [
                {"subnet_id": p.subnet_uuid, "version": 4, "ip_address": p.ip_address}]}
            for p in ports
        ]  # fmt: skip
    return [
        {"net_id": p.network_uuid, "subnet_id": p.subnet_uuid, "port_id": p.uuid,
         "version": 4, "ip_address": p.ip_address}
        for p in ports
    ]  # fmt: skip
