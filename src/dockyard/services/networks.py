"""Tenant networks, subnets and subnet pools (Neutron's shapes): one project owns each; the
control plane owns every VNI and address (IPAM is central, a host never picks one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.networks_tables import NetworkRow, PortRow, SubnetPoolRow, SubnetRow
from dockyard.db.repositories.netplane import NetplaneRepository
from dockyard.db.repositories.networks import (
    Filters,
    NetworkRepository,
    SubnetPoolRepository,
    SubnetRepository,
    count_ports,
)
from dockyard.db.tables import new_uuid
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import (
    Conflict,
    DuplicateEntry,
    InvalidInput,
    InvalidValue,
    NetworkInUse,
    NotAuthorized,
    ProjectDefaultMissing,
    SubnetInUse,
)
from dockyard.schemas.networks import (
    NetworkCreate,
    NetworkUpdate,
    SubnetCreate,
    SubnetPoolCreate,
    SubnetPoolUpdate,
    SubnetUpdate,
)
from dockyard.services import ipam
from dockyard.services.hostnetworks import LINGERING
from dockyard.services.netevents import touch_hosts, touch_networks

DEFAULT_NETWORK = "default"
DEFAULT_CIDR = "10.224.0.0/16"  # every project's default network (overlaps are fine)
_VNI_TRIES = 8
# The list filters of each collection: wire name → column (its type converts the value).
FILTERS: dict[str, dict[str, Any]] = {
    "networks": NetworkRepository.columns,
    "subnets": SubnetRepository.columns,
    "subnetpools": SubnetPoolRepository.columns,
}


def scope_of(ctx: RequestContext) -> TenantScope:
    """Neutron's reach: an administrator sees every project's objects, others their own."""
    return TenantScope.all_projects() if ctx.is_admin else TenantScope(ctx.project_id)


def owner_of(ctx: RequestContext, asked: str | None, tenant: str | None = None) -> str:
    """The project a new object belongs to: the caller's, or another's for an admin."""
    wanted = asked or tenant
    if wanted and wanted != ctx.project_id and not ctx.is_admin:
        raise NotAuthorized("Only an administrator can create objects for another project.")
    return wanted or ctx.project_id


async def new_network(session: Session, project_id: str, **fields: Any) -> NetworkRow:
    """A network row with a VNI nobody holds (checked, and the unique column decides races)."""
    repo = NetworkRepository(session, TenantScope(project_id))
    for _ in range(_VNI_TRIES):
        vni = ipam.new_vni()
        if not await repo.vni_taken(vni):
            row = NetworkRow(uuid=new_uuid(), project_id=project_id, vni=vni, **fields)
            repo.add(row)
            await session.flush()
            return row
    raise Conflict("Could not find a free VXLAN network id; try again.")


async def default_network(session: Session, project_id: str) -> NetworkRow:
    """The project's default network (project_defaults.ensure_project_defaults made it
    before this transaction began)."""
    found = await NetworkRepository(session, TenantScope(project_id)).find_default(project_id)
    if found is None:  # deleted by its owner since: the caller may simply try again
        raise ProjectDefaultMissing(what="default network")
    return found


@dataclass
class NetworkService:
    sessions: Sessions

    # --- networks --------------------------------------------------------------------------

    async def list_networks(self, ctx: RequestContext, filters: Filters) -> list[Any]:
        async with self.sessions() as session:
            rows = await NetworkRepository(session, scope_of(ctx)).list(filters)
            subnets = await SubnetRepository(session, scope_of(ctx)).of_networks(
                [r.uuid for r in rows]
            )
        return [(row, subnets[row.uuid]) for row in rows]

    async def get_network(self, ctx: RequestContext, ident: str) -> tuple[NetworkRow, list[str]]:
        async with self.sessions() as session:
            row = await NetworkRepository(session, scope_of(ctx)).get(ident)
            subnets = await SubnetRepository(session, scope_of(ctx)).of_networks([row.uuid])
        return row, subnets[row.uuid]

    async def create_network(self, ctx: RequestContext, body: NetworkCreate) -> NetworkRow:
        if (body.shared or body.external or body.is_default) and not ctx.is_admin:
            raise NotAuthorized("Only an administrator can make a shared or external network.")
        project = owner_of(ctx, body.project_id, body.tenant_id)
        fields = {"name": body.name, "description": body.description, "shared": body.shared,
                  "admin_state_up": body.admin_state_up, "external": body.external,
                  "mtu": body.mtu or 1450}  # fmt: skip
        try:
            async with transaction(self.sessions) as session:
                return await new_network(session, project, **fields)
        except DuplicateEntry:  # a VNI taken between the check and the insert
            raise Conflict("Could not find a free VXLAN network id; try again.") from None

    async def update_network(
        self, ctx: RequestContext, ident: str, patch: NetworkUpdate
    ) -> tuple[NetworkRow, list[str]]:
        if patch.shared and not ctx.is_admin:
            raise NotAuthorized("Only an administrator can share a network.")
        async with transaction(self.sessions) as session:
            row = await NetworkRepository(session, scope_of(ctx)).get_owned(ident, for_update=True)
            _patch(row, patch.model_dump(exclude_unset=True, exclude_none=True))
            subnets = await SubnetRepository(session, scope_of(ctx)).of_networks([row.uuid])
            if patch.mtu is not None:
                await touch_networks(session, [row.uuid])
        return row, subnets[row.uuid]

    async def delete_network(self, ctx: RequestContext, ident: str) -> None:
        """409 while any container holds an address on it; its subnets go with it."""
        async with transaction(self.sessions) as session:
            repo = NetworkRepository(session, scope_of(ctx))
            row = await repo.get_owned(ident, for_update=True)
            if await count_ports(session, PortRow.network_uuid, row.uuid):
                raise NetworkInUse(ident=row.uuid)
            await repo.delete(row)
            # Hosts it left lately may still keep it plumbed: they drop it now.
            lately = (f"{LINGERING}{row.uuid}@", f"n:{row.uuid}")
            await touch_hosts(session, await NetplaneRepository(session).hosts_recording(lately))

    # --- subnets ---------------------------------------------------------------------------

    async def list_subnets(self, ctx: RequestContext, filters: Filters) -> Sequence[SubnetRow]:
        async with self.sessions() as session:
            return await SubnetRepository(session, scope_of(ctx)).list(filters)

    async def get_subnet(self, ctx: RequestContext, ident: str) -> SubnetRow:
        async with self.sessions() as session:
            row: SubnetRow = await SubnetRepository(session, scope_of(ctx)).get(ident)
            return row

    async def create_subnet(self, ctx: RequestContext, body: SubnetCreate) -> SubnetRow:
        if body.ip_version != 4:
            raise InvalidValue("Only IPv4 subnets are supported by this deployment.")
        async with transaction(self.sessions) as session:
            network = await NetworkRepository(session, scope_of(ctx)).get_owned(body.network_id)
            net, pool = await self._subnet_range(session, ctx, body)
            taken = [s.cidr for s in await SubnetRepository(session, scope_of(ctx)).of_network(
                network.uuid)]  # fmt: skip
            clash = ipam.overlapping(net, taken)
            if clash is not None:
                raise InvalidInput(
                    error=f"Requested subnet with cidr: {net} for network: {network.uuid} "
                    f"overlaps with another subnet ({clash})."
                )
            gateway = _gateway(net, body.gateway_ip)
            pools = [p.model_dump() for p in body.allocation_pools or []]
            pools = pools or ipam.default_pools(net, gateway)
            ipam.check_pools(net, pools, gateway)
            if gateway is None and ipam.in_pools(ipam.service_address(str(net)), pools):
                raise Conflict(f"Without a gateway, {ipam.service_address(str(net))} (the "
                               "name service's address) must stay out of the pools.")  # fmt: skip
            row = SubnetRow(
                uuid=new_uuid(), project_id=network.project_id, network_uuid=network.uuid,
                subnetpool_uuid=pool.uuid if pool else None, name=body.name,
                description=body.description, cidr=str(net), gateway_ip=gateway,
                enable_dhcp=body.enable_dhcp, allocation_pools=pools,
                dns_nameservers=list(body.dns_nameservers),
            )  # fmt: skip
            session.add(row)
            await touch_networks(session, [network.uuid])
        return row

    async def _subnet_range(
        self, session: Session, ctx: RequestContext, body: SubnetCreate
    ) -> tuple[Any, SubnetPoolRow | None]:
        """The subnet's CIDR: as given, or carved from its pool (within it, free in it)."""
        if body.subnetpool_id is None:
            if body.cidr is None:
                raise InvalidValue("Bad subnets request: a cidr must be specified in the absence "
                                   "of a subnet pool.")  # fmt: skip
            return ipam.network_of(body.cidr), None
        pool = await SubnetPoolRepository(session, scope_of(ctx)).get(body.subnetpool_id)
        taken = await SubnetRepository(session, TenantScope.all_projects()).cidrs_of_pool(pool.uuid)
        if body.cidr is not None:
            net = ipam.network_of(body.cidr)
            if not ipam.within_pool(net, pool.prefixes):
                raise InvalidValue(f"Cidr {net} is not within the prefixes of subnet pool "
                                   f"{pool.uuid}.")  # fmt: skip
            if not pool.min_prefixlen <= net.prefixlen <= pool.max_prefixlen:
                raise InvalidValue(f"Prefix length of {net} is outside the pool's limits "
                                   f"({pool.min_prefixlen}-{pool.max_prefixlen}).")  # fmt: skip
            if ipam.overlapping(net, taken) is not None:
                raise Conflict(f"Cidr {net} overlaps another subnet of subnet pool {pool.uuid}.")
            return net, pool
        carved = ipam.carve(pool.prefixes, body.prefixlen or pool.default_prefixlen, taken)
        if carved is None:
            raise Conflict(f"Subnet pool {pool.uuid} has no free prefix of the asked length.")
        return carved, pool

    async def update_subnet(
        self, ctx: RequestContext, ident: str, patch: SubnetUpdate
    ) -> SubnetRow:
        async with transaction(self.sessions) as session:
            repo = SubnetRepository(session, scope_of(ctx))
            row: SubnetRow = await repo.get_owned(ident, for_update=True)
            _patch(row, patch.model_dump(exclude_unset=True, exclude_none=True))
        return row

    async def delete_subnet(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = SubnetRepository(session, scope_of(ctx))
            row = await repo.get_owned(ident, for_update=True)
            if await count_ports(session, PortRow.subnet_uuid, row.uuid):
                raise SubnetInUse(ident=row.uuid)
            await repo.delete(row)
            await touch_networks(session, [row.network_uuid])

    # --- subnet pools ----------------------------------------------------------------------

    async def list_pools(self, ctx: RequestContext, filters: Filters) -> Sequence[SubnetPoolRow]:
        async with self.sessions() as session:
            return await SubnetPoolRepository(session, scope_of(ctx)).list(filters)

    async def get_pool(self, ctx: RequestContext, ident: str) -> SubnetPoolRow:
        async with self.sessions() as session:
            row: SubnetPoolRow = await SubnetPoolRepository(session, scope_of(ctx)).get(ident)
            return row

    async def create_pool(self, ctx: RequestContext, body: SubnetPoolCreate) -> SubnetPoolRow:
        if (body.shared or body.is_default) and not ctx.is_admin:
            raise NotAuthorized("Only an administrator can make a shared or default pool.")
        prefixes = [str(ipam.network_of(p)) for p in body.prefixes]
        shortest = min(int(p.split("/")[1]) for p in prefixes)
        low = body.min_prefixlen or shortest
        high = body.max_prefixlen or 30
        default = body.default_prefixlen or low
        if not low <= default <= high:
            raise InvalidValue(f"Illegal prefix bounds: min {low}, default {default}, max {high}.")
        row = SubnetPoolRow(
            uuid=new_uuid(), project_id=owner_of(ctx, body.project_id, body.tenant_id),
            name=body.name, description=body.description, prefixes=prefixes,
            default_prefixlen=default, min_prefixlen=low, max_prefixlen=high,
            shared=body.shared, is_default=body.is_default,
        )  # fmt: skip
        async with transaction(self.sessions) as session:
            session.add(row)
        return row

    async def update_pool(
        self, ctx: RequestContext, ident: str, patch: SubnetPoolUpdate
    ) -> SubnetPoolRow:
        async with transaction(self.sessions) as session:
            repo = SubnetPoolRepository(session, scope_of(ctx))
            row: SubnetPoolRow = await repo.get_owned(ident, for_update=True)
            changes = patch.model_dump(exclude_unset=True, exclude_none=True)
            if "prefixes" in changes:
                added = [str(ipam.network_of(p)) for p in changes.pop("prefixes")]
                missing = [
                    p for p in row.prefixes if not ipam.within_pool(ipam.network_of(p), added)
                ]
                if missing:
                    raise InvalidValue(f"Prefixes can only grow: {', '.join(missing)} missing.")
                row.prefixes = added
            _patch(row, changes)
        return row

    async def delete_pool(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = SubnetPoolRepository(session, scope_of(ctx))
            row = await repo.get_owned(ident, for_update=True)
            if await SubnetRepository(session, TenantScope.all_projects()).cidrs_of_pool(row.uuid):
                raise Conflict(f"Subnet pool {row.uuid} has subnets allocated from it.")
            await repo.delete(row)


def _gateway(net: Any, asked: str | None) -> str | None:
    if asked == "auto":
        return ipam.default_gateway(net)
    if asked is None:
        return None
    address = ipam.address_of(asked, "gateway_ip")
    if address not in net or address in (net.network_address, net.broadcast_address):
        raise InvalidValue(f"Gateway IP {asked} is not a host address of subnet {net}.")
    return str(address)


def _patch(row: Any, changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        setattr(row, name, value)
    row.revision_number = (row.revision_number or 0) + 1
