"""Tenant networks, subnets, subnet pools and Zun's network objects, seen through a scope.

Neutron names its objects by id only (a name is a list filter), so lookups here are by uuid;
the container side resolves names itself. Shared networks and pools are visible to everyone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from sqlalchemy import Select, func, or_, select

from dockyard.db.networks_tables import (
    ContainerNetworkRow,
    NetworkRow,
    PortRow,
    SubnetPoolRow,
    SubnetRow,
)
from dockyard.db.repositories.base import TenantRepository, is_uuid
from dockyard.errors import Conflict, NetworkNotFound, SubnetNotFound, SubnetPoolNotFound

Filters = Mapping[str, list[Any]]


class NeutronRepository(TenantRepository[Any]):
    """Lookup by uuid and Neutron's list filters (`?name=a&name=b` is "a or b")."""

    by_name = False
    columns: ClassVar[dict[str, Any]] = {}
    shareable: ClassVar[bool] = False

    def _scoped(self, stmt: Any) -> Any:
        if self.scope.is_unrestricted:
            return stmt
        mine = self.row.project_id == self.scope.project_id
        return stmt.where(or_(mine, self.row.shared.is_(True)) if self.shareable else mine)

    async def list(self, filters: Filters) -> Sequence[Any]:
        stmt = self._scoped(select(self.row))
        for key, values in filters.items():
            stmt = stmt.where(self.columns[key].in_(values))
        return (await self.session.scalars(stmt.order_by(self.row.created_at))).all()

    async def find_owned(self, ident: str, *, for_update: bool = False) -> Any:
        """The row ident if it is the caller's own (to change or delete), or None."""
        if not is_uuid(ident):
            return None
        stmt = select(self.row).where(self.row.uuid == ident)
        if not self.scope.is_unrestricted:
            stmt = stmt.where(self.row.project_id == self.scope.project_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).first()

    async def get_owned(self, ident: str, *, for_update: bool = False) -> Any:
        found = await self.find_owned(ident, for_update=for_update)
        if found is None:
            raise self.not_found(ident=ident)
        return found


def neutron_columns(row: Any, *names: str, **renamed: str) -> dict[str, Any]:
    found = {name: getattr(row, name) for name in names}
    found.update({wire: getattr(row, column) for wire, column in renamed.items()})
    return {"id": row.uuid, "project_id": row.project_id, "tenant_id": row.project_id, **found}


class NetworkRepository(NeutronRepository):
    row = NetworkRow
    not_found = NetworkNotFound
    kind = "network"
    shareable = True
    columns = neutron_columns(
        NetworkRow, "name", "description", "shared", "admin_state_up", "mtu",
        **{"router:external": "external"},
    )  # fmt: skip

    async def find_default(self, project_id: str) -> NetworkRow | None:
        stmt = select(NetworkRow).where(
            NetworkRow.project_id == project_id, NetworkRow.is_default.is_(True)
        )
        return (await self.session.scalars(stmt.order_by(NetworkRow.created_at))).first()

    async def find_by_name_or_id(self, ident: str) -> NetworkRow | None:
        """For the container side (`--net network=foo`): a uuid, else a unique visible name."""
        if is_uuid(ident):
            return await self.find(ident)
        stmt = self._scoped(select(NetworkRow).where(NetworkRow.name == ident)).limit(2)
        rows = (await self.session.scalars(stmt)).all()
        if len(rows) > 1:
            raise Conflict(f"Multiple networks named {ident} exist: use its id.")
        return rows[0] if rows else None

    async def vni_taken(self, vni: int) -> bool:
        stmt = select(func.count()).select_from(NetworkRow).where(NetworkRow.vni == vni)
        return bool(await self.session.scalar(stmt))


class SubnetRepository(NeutronRepository):
    row = SubnetRow
    not_found = SubnetNotFound
    kind = "subnet"
    columns = neutron_columns(
        SubnetRow, "name", "description", "cidr", "gateway_ip", "ip_version", "enable_dhcp",
        network_id="network_uuid", subnetpool_id="subnetpool_uuid",
    )  # fmt: skip

    def _scoped(self, stmt: Any) -> Any:
        """A shared network's subnets are visible with it."""
        if self.scope.is_unrestricted:
            return stmt
        shared = select(NetworkRow.uuid).where(NetworkRow.shared.is_(True))
        return stmt.where(
            or_(SubnetRow.project_id == self.scope.project_id, SubnetRow.network_uuid.in_(shared))
        )

    async def of_network(self, network_uuid: str) -> Sequence[SubnetRow]:
        stmt = select(SubnetRow).where(SubnetRow.network_uuid == network_uuid)
        return (await self.session.scalars(stmt.order_by(SubnetRow.created_at))).all()

    async def lock_networks(self, network_uuids: Sequence[str]) -> None:
        """Hold the networks (key share) and then their subnets (update) until commit
        (PostgreSQL; SQLite's write lock already does), each in uuid order so that two
        holders never wait on each other; NetworkNotFound if one went meanwhile.

        The network rows come first because a network's delete locks its row and then
        deletes its subnets: a create holding the subnets that then needed the network row
        (its port's foreign key) would deadlock with it. Now the delete waits for the
        create, and finds its port (in use); or the create waits for the delete, and finds
        no network.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return  # SQLite would ignore FOR UPDATE: spare the read
        wanted = sorted(set(network_uuids))
        held = select(NetworkRow.uuid).where(NetworkRow.uuid.in_(wanted)).order_by(NetworkRow.uuid)
        found = set((await self.session.scalars(held.with_for_update(key_share=True))).all())
        for uuid in wanted:
            if uuid not in found:
                raise NetworkNotFound(ident=uuid)
        stmt = (select(SubnetRow.uuid).where(SubnetRow.network_uuid.in_(wanted))
                .order_by(SubnetRow.uuid).with_for_update())  # fmt: skip
        await self.session.execute(stmt)

    async def of_networks(self, uuids: Sequence[str]) -> dict[str, list[str]]:
        """network uuid → its subnets' uuids (for the networks' `subnets` field)."""
        found: dict[str, list[str]] = {u: [] for u in uuids}
        stmt = select(SubnetRow.network_uuid, SubnetRow.uuid).where(
            SubnetRow.network_uuid.in_(uuids)
        )
        for network, subnet in await self.session.execute(stmt.order_by(SubnetRow.created_at)):
            found[network].append(subnet)
        return found

    async def cidrs_of_pool(self, pool_uuid: str) -> list[str]:
        stmt = select(SubnetRow.cidr).where(SubnetRow.subnetpool_uuid == pool_uuid)
        return list((await self.session.scalars(stmt)).all())


class SubnetPoolRepository(NeutronRepository):
    row = SubnetPoolRow
    not_found = SubnetPoolNotFound
    kind = "subnetpool"
    shareable = True
    columns = neutron_columns(
        SubnetPoolRow, "name", "description", "shared", "is_default", "ip_version",
        "default_prefixlen", "min_prefixlen", "max_prefixlen",
    )  # fmt: skip

    async def find_by_name_or_id(self, ident: str) -> SubnetPoolRow | None:
        if is_uuid(ident):
            found: SubnetPoolRow | None = await self.find(ident)
            return found
        stmt = self._scoped(select(SubnetPoolRow).where(SubnetPoolRow.name == ident))
        return (await self.session.scalars(stmt.limit(1))).first()


class ContainerNetworkRepository(TenantRepository[ContainerNetworkRow]):
    row = ContainerNetworkRow
    not_found = NetworkNotFound
    kind = "network"

    async def list(self) -> Sequence[ContainerNetworkRow]:
        stmt = self._scoped(select(ContainerNetworkRow))
        return (await self.session.scalars(stmt.order_by(ContainerNetworkRow.created_at))).all()

    async def find_by_neutron_id(self, neutron_net_id: str) -> ContainerNetworkRow | None:
        stmt = self._scoped(
            select(ContainerNetworkRow).where(ContainerNetworkRow.neutron_net_id == neutron_net_id)
        )
        return (await self.session.scalars(stmt.limit(1))).first()


async def count_ports(session: Any, column: Any, value: str) -> int:
    """How many ports hold an address on the network or subnet (column is theirs)."""
    stmt: Select[Any] = select(func.count()).select_from(PortRow).where(column == value)
    return int(await session.scalar(stmt) or 0)
