"""The ports an agent plugs in: a standalone container's own, or all of a sandbox's members'
(they share its network namespace), as PortBindings with the subnet's prefix and gateway."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from ipaddress import ip_network

from dockyard.db.engine import Session
from dockyard.db.networks_tables import PortRow, SubnetRow
from dockyard.db.repositories.netplane import NetplaneRepository
from dockyard.schemas.netplane import PortBinding

Bindings = dict[str, list[PortBinding]]


async def port_bindings(
    session: Session, standalone: Collection[str], sandboxes: Collection[str]
) -> tuple[Bindings, Bindings]:
    """(container uuid → its bindings, sandbox uuid → its bindings), oldest port first."""
    by_container: Bindings = {}
    by_sandbox: Bindings = {}
    for port, subnet, sandbox in await NetplaneRepository(session).bound_ports(
        standalone, sandboxes
    ):
        found = binding(port, {subnet.uuid: subnet})
        if sandbox is None:
            by_container.setdefault(str(port.container_uuid), []).append(found)
        else:
            by_sandbox.setdefault(sandbox, []).append(found)
    return by_container, by_sandbox


def binding(port: PortRow, subnets: dict[str, SubnetRow]) -> PortBinding:
    subnet = subnets[port.subnet_uuid]
    return PortBinding(
        port_id=port.uuid, network_id=port.network_uuid, ip=port.ip_address,
        prefixlen=ip_network(subnet.cidr).prefixlen, mac=port.mac_address,
        gateway=subnet.gateway_ip, security_groups=list(port.security_groups),
    )  # fmt: skip


def bindings_of(ports: Sequence[PortRow], subnets: dict[str, SubnetRow]) -> list[PortBinding]:
    return [binding(p, subnets) for p in ports]
