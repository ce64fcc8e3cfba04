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
    """(container uuid → its bindings, sandbox uuid → its bindings)."""
    repo = NetplaneRepository(session)
    own = list(await repo.ports_of_containers(standalone)) if standalone else []
    boxed = await repo.ports_of_sandboxes(sandboxes) if sandboxes else []
    subnets = await repo.subnets({p.subnet_uuid for p in [*own, *(p for p, _ in boxed)]})
    by_container: Bindings = {}
    for port in own:
        by_container.setdefault(str(port.container_uuid), []).append(binding(port, subnets))
    by_sandbox: Bindings = {}
    for port, sandbox in sorted(boxed, key=lambda item: item[0].created_at):
        by_sandbox.setdefault(str(sandbox), []).append(binding(port, subnets))
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
