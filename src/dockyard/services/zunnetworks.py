"""Zun's container-network objects (/v1/networks): a project's name for one of its networks.

Zun made these admin-only and backed them by Neutron; here every project manages its own,
and one made without `neutron_net_id` gets a network of its own that goes with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.db.engine import Sessions, transaction
from dockyard.db.networks_tables import ContainerNetworkRow, PortRow, SubnetRow
from dockyard.db.repositories.networks import (
    ContainerNetworkRepository,
    NetworkRepository,
    count_ports,
)
from dockyard.db.tables import new_uuid
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import NetworkInUse, NetworkNotFound
from dockyard.schemas.networks import ContainerNetworkCreate
from dockyard.services import ipam
from dockyard.services.networks import DEFAULT_CIDR, new_network


def _scope(ctx: RequestContext) -> TenantScope:
    return TenantScope.all_projects() if ctx.is_admin else TenantScope(ctx.project_id)


@dataclass
class ZunNetworkService:
    sessions: Sessions

    async def create(
        self, ctx: RequestContext, body: ContainerNetworkCreate
    ) -> ContainerNetworkRow:
        """Name a network the caller can use, or (without neutron_net_id) make one."""
        async with transaction(self.sessions) as session:
            managed = body.neutron_net_id is None
            if body.neutron_net_id is not None:
                found = await NetworkRepository(session, _scope(ctx)).find(body.neutron_net_id)
                if found is None:
                    raise NetworkNotFound(ident=body.neutron_net_id)
                net_id = found.uuid
            else:
                made = await new_network(session, ctx.project_id, name=body.name)
                net = ipam.network_of(DEFAULT_CIDR)
                gateway = ipam.default_gateway(net)
                session.add(SubnetRow(
                    uuid=new_uuid(), project_id=ctx.project_id, network_uuid=made.uuid,
                    name=body.name, cidr=str(net), gateway_ip=gateway,
                    allocation_pools=ipam.default_pools(net, gateway),
                ))  # fmt: skip
                net_id = made.uuid
            row = ContainerNetworkRow(
                uuid=new_uuid(), project_id=ctx.project_id, user_id=ctx.user_id,
                name=body.name, neutron_net_id=net_id, managed=managed,
            )  # fmt: skip
            session.add(row)
        return row

    async def list(self, ctx: RequestContext) -> Sequence[ContainerNetworkRow]:
        async with self.sessions() as session:
            return await ContainerNetworkRepository(session, TenantScope(ctx.project_id)).list()

    async def get(self, ctx: RequestContext, ident: str) -> ContainerNetworkRow:
        """By its uuid, its name or its neutron_net_id (Zun's DELETE path names the latter)."""
        async with self.sessions() as session:
            repo = ContainerNetworkRepository(session, _scope(ctx))
            found = await repo.find(ident) or await repo.find_by_neutron_id(ident)
            if found is None:
                raise NetworkNotFound(ident=ident)
            return found

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        """409 while a container holds an address on it; a managed network goes too."""
        row = await self.get(ctx, ident)
        async with transaction(self.sessions) as session:
            if await count_ports(session, PortRow.network_uuid, row.neutron_net_id):
                raise NetworkInUse(ident=row.neutron_net_id)
            await ContainerNetworkRepository(session, _scope(ctx)).delete(row)
            if row.managed:
                networks = NetworkRepository(session, TenantScope.all_projects())
                network = await networks.find(row.neutron_net_id)
                if network is not None:
                    await networks.delete(network)


def zun_network_view(row: ContainerNetworkRow) -> dict[str, Any]:
    """Zun's network fields; `network_id` (the engine's network) is named after the net."""
    return {
        "uuid": row.uuid, "name": row.name, "project_id": row.project_id,
        "user_id": row.user_id, "network_id": row.neutron_net_id,
        "neutron_net_id": row.neutron_net_id,
    }  # fmt: skip
