"""Ports: the addresses containers and capsules hold on tenant networks."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import or_, select

from dockyard.db.networks_tables import NetworkRow, PortRow
from dockyard.db.repositories.base import TenantRepository
from dockyard.db.tables import CapsuleRow, ContainerRow, SandboxRow
from dockyard.errors import PortNotFound

FILTERS: dict[str, Any] = {
    "id": PortRow.uuid, "name": PortRow.name, "network_id": PortRow.network_uuid,
    "mac_address": PortRow.mac_address, "device_owner": PortRow.device_owner,
    "project_id": PortRow.project_id, "tenant_id": PortRow.project_id,
}  # fmt: skip


class PortRepository(TenantRepository[PortRow]):
    row = PortRow
    not_found = PortNotFound
    kind = "port"
    by_name = False

    async def list(self, filters: dict[str, list[Any]]) -> Sequence[PortRow]:
        stmt = self._scoped(select(PortRow))
        for key, values in filters.items():
            if key == "device_id":
                stmt = stmt.where(
                    or_(PortRow.container_uuid.in_(values), PortRow.capsule_uuid.in_(values))
                )
            elif key == "fixed_ips":
                stmt = stmt.where(PortRow.ip_address.in_(_fixed_ip_filters(values)))
            else:
                stmt = stmt.where(FILTERS[key].in_(values))
        return (await self.session.scalars(stmt.order_by(PortRow.created_at))).all()

    async def of_owner(self, uuid: str) -> Sequence[PortRow]:
        """The ports of a container or a capsule, oldest first."""
        stmt = self._scoped(select(PortRow)).where(
            or_(PortRow.container_uuid == uuid, PortRow.capsule_uuid == uuid)
        )
        return (await self.session.scalars(stmt.order_by(PortRow.created_at))).all()

    async def of_owners(self, uuids: Collection[str]) -> dict[str, builtins.list[PortRow]]:
        found: dict[str, builtins.list[PortRow]] = {u: [] for u in uuids}
        if not uuids:
            return found
        stmt = self._scoped(select(PortRow)).where(
            or_(PortRow.container_uuid.in_(uuids), PortRow.capsule_uuid.in_(uuids))
        )
        for port in (await self.session.scalars(stmt.order_by(PortRow.created_at))).all():
            found[str(port.container_uuid or port.capsule_uuid)].append(port)
        return found

    async def address_taken(self, subnet_uuid: str, ip: str) -> bool:
        stmt = select(PortRow.uuid).where(
            PortRow.subnet_uuid == subnet_uuid, PortRow.ip_address == ip
        )
        return (await self.session.scalars(stmt.limit(1))).first() is not None

    async def used_addresses(self, subnet_uuid: str) -> set[str]:
        stmt = select(PortRow.ip_address).where(PortRow.subnet_uuid == subnet_uuid)
        return set((await self.session.scalars(stmt)).all())

    async def hosts_of_networks(self, networks: Collection[str]) -> set[str]:
        """Hosts that carry any of the networks: those of the containers and capsules with
        a port on one of them."""
        if not networks:
            return set()
        on = PortRow.network_uuid.in_(networks)
        by_container = select(ContainerRow.host_uuid).join(
            PortRow, PortRow.container_uuid == ContainerRow.uuid
        )
        by_capsule = (  # a capsule is where its sandbox is
            select(SandboxRow.host_uuid)
            .join(CapsuleRow, CapsuleRow.sandbox_uuid == SandboxRow.uuid)
            .join(PortRow, PortRow.capsule_uuid == CapsuleRow.uuid)
        )
        found: set[str] = set()
        for stmt in (by_container.where(on), by_capsule.where(on)):
            found.update(h for h in (await self.session.scalars(stmt)).all() if h)
        return found

    async def networks_of_groups(self, groups: Collection[str]) -> set[str]:
        """Networks with a port in one of the security groups (their hosts enforce them)."""
        rows = (await self.session.scalars(select(PortRow))).all()
        return {p.network_uuid for p in rows if set(p.security_groups) & set(groups)}

    async def network_names(self, uuids: Collection[str]) -> dict[str, NetworkRow]:
        stmt = select(NetworkRow).where(NetworkRow.uuid.in_(uuids))
        return {n.uuid: n for n in (await self.session.scalars(stmt)).all()}


def _fixed_ip_filters(values: list[Any]) -> list[str]:
    """`fixed_ips=ip_address=10.0.0.5` (Neutron's form) → the addresses."""
    return [str(v).split("=", 1)[1] for v in values if str(v).startswith("ip_address=")]
