"""The queries behind a host's HostNetworks: ports with the host they are on, networks with
their first IPv4 subnet, rules, names; and the host's recorded network revision."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, String, cast, null, select, union, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.networks_tables import (
    NetworkRow,
    PortRow,
    SecurityGroupRow,
    SecurityGroupRuleRow,
    SubnetRow,
)
from dockyard.db.tables import CapsuleRow, ContainerRow, HostRow, SandboxRow


class NetplaneRepository:
    """Across every project: what hosts carry is the system's business, not a tenant's."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def port_hosts(
        self, networks: Collection[str] | Select[tuple[str]] | None = None
    ) -> list[tuple[PortRow, str | None]]:
        """Ports (of the networks, or all) with the host their container or capsule is on
        (a capsule is where its sandbox is); `networks` may be a query of network uuids."""
        found: list[tuple[PortRow, str | None]] = []
        for stmt in (
            select(PortRow, ContainerRow.host_uuid).join(
                ContainerRow, PortRow.container_uuid == ContainerRow.uuid),
            select(PortRow, SandboxRow.host_uuid)
            .join(CapsuleRow, PortRow.capsule_uuid == CapsuleRow.uuid)
            .join(SandboxRow, CapsuleRow.sandbox_uuid == SandboxRow.uuid),
        ):  # fmt: skip
            if networks is not None:
                stmt = stmt.where(PortRow.network_uuid.in_(networks))
            found += [(port, host) for port, host in (await self.session.execute(stmt)).all()]
        return found

    @staticmethod
    def local_networks(host_uuid: str) -> Select[tuple[str]]:
        """The networks with a port on the host, as a query (for port_hosts): one round trip
        for the host's networks and their ports where there were two."""
        own = (select(PortRow.network_uuid)
               .join(ContainerRow, PortRow.container_uuid == ContainerRow.uuid)
               .where(ContainerRow.host_uuid == host_uuid))  # fmt: skip
        boxed = (select(PortRow.network_uuid)
                 .join(CapsuleRow, PortRow.capsule_uuid == CapsuleRow.uuid)
                 .join(SandboxRow, CapsuleRow.sandbox_uuid == SandboxRow.uuid)
                 .where(SandboxRow.host_uuid == host_uuid))  # fmt: skip
        return select(union(own, boxed).subquery().c.network_uuid)

    async def ports_of_sandboxes(
        self, sandboxes: Collection[str]
    ) -> list[tuple[PortRow, str | None]]:
        """Ports of the containers and capsules in the sandboxes, with their sandbox."""
        found: list[tuple[PortRow, str | None]] = []
        for owner, column in ((ContainerRow, PortRow.container_uuid),
                              (CapsuleRow, PortRow.capsule_uuid)):  # fmt: skip
            stmt = (select(PortRow, owner.sandbox_uuid).join(owner, column == owner.uuid)
                    .where(owner.sandbox_uuid.in_(sandboxes)))  # fmt: skip
            found += [(port, box) for port, box in (await self.session.execute(stmt)).all()]
        return found

    async def bound_ports(
        self, standalone: Collection[str], sandboxes: Collection[str]
    ) -> list[tuple[PortRow, SubnetRow, str | None]]:
        """The ports of the standalone containers and those of the sandboxes' members and
        capsules (with their sandbox; None for a standalone container's), each with its
        subnet, oldest first: one round trip (a long-poll's batch runs between a create's
        commit and its agent's start of it)."""
        owned: list[Select[Any, Any]] = []
        if standalone:
            owned.append(select(PortRow.uuid, cast(null(), String(36)))
                         .where(PortRow.container_uuid.in_(standalone)))  # fmt: skip
        if sandboxes:
            for owner, column in ((ContainerRow, PortRow.container_uuid),
                                  (CapsuleRow, PortRow.capsule_uuid)):  # fmt: skip
                owned.append(select(PortRow.uuid, owner.sandbox_uuid)
                             .join(owner, column == owner.uuid)
                             .where(owner.sandbox_uuid.in_(sandboxes)))  # fmt: skip
        if not owned:
            return []
        which = union_all(*owned).subquery()
        port, sandbox = which.c
        stmt = (select(PortRow, SubnetRow, sandbox).join(which, port == PortRow.uuid)
                .join(SubnetRow, SubnetRow.uuid == PortRow.subnet_uuid)
                .order_by(PortRow.created_at))  # fmt: skip
        return [(p, sub, box) for p, sub, box in (await self.session.execute(stmt)).all()]

    async def hosts(self, uuids: Collection[str]) -> Sequence[HostRow]:
        return (await self.session.scalars(select(HostRow).where(HostRow.uuid.in_(uuids)))).all()

    async def networks(self, uuids: Collection[str]) -> dict[str, tuple[NetworkRow, SubnetRow]]:
        """Each existing network with its first IPv4 subnet (the one the data plane builds);
        a network without one is left out. One round trip for all of them."""
        if not uuids:
            return {}
        stmt = (
            select(NetworkRow, SubnetRow)
            .join(SubnetRow, SubnetRow.network_uuid == NetworkRow.uuid)
            .where(NetworkRow.uuid.in_(uuids), SubnetRow.ip_version == 4)
            .order_by(SubnetRow.created_at)
        )
        found: dict[str, tuple[NetworkRow, SubnetRow]] = {}
        for network, subnet in (await self.session.execute(stmt)).all():
            found.setdefault(network.uuid, (network, subnet))  # the first subnet made
        return found

    async def rules(self, groups: Collection[str]) -> Sequence[SecurityGroupRuleRow]:
        stmt = select(SecurityGroupRuleRow).where(
            SecurityGroupRuleRow.security_group_uuid.in_(groups)
        )
        return (await self.session.scalars(stmt.order_by(SecurityGroupRuleRow.uuid))).all()

    async def ports_of_group_projects(self, groups: Collection[str]) -> Sequence[PortRow]:
        """The ports of the projects the security groups belong to (a port holds groups of
        its own project only, so these hold every member of the groups)."""
        projects = select(SecurityGroupRow.project_id).where(SecurityGroupRow.uuid.in_(groups))
        stmt = select(PortRow).where(PortRow.project_id.in_(projects))
        return (await self.session.scalars(stmt)).all()

    async def names(self, containers: Collection[str], capsules: Collection[str]) -> dict[str, str]:
        """uuid → name of the containers and capsules."""
        found: dict[str, str] = {}
        for row, uuids in ((ContainerRow, containers), (CapsuleRow, capsules)):
            if uuids:
                stmt: Any = select(row.uuid, row.name).where(row.uuid.in_(uuids))
                found.update({u: n for u, n in (await self.session.execute(stmt)).all()})
        return found

    async def existing_networks(self, uuids: Collection[str]) -> set[str]:
        """Which of these networks still exist."""
        if not uuids:
            return set()
        stmt = select(NetworkRow.uuid).where(NetworkRow.uuid.in_(uuids))
        return set((await self.session.scalars(stmt)).all())

    async def hosts_recording(self, prefixes: Collection[str]) -> list[str]:
        """Hosts whose recorded network ids include one starting with any of the prefixes
        (read whole: JSON containment is not portable, and this runs once per deletion)."""
        stmt = select(HostRow.uuid, HostRow.network_ids).where(HostRow.network_ids.is_not(None))
        wanted = tuple(prefixes)
        return [
            uuid for uuid, ids in (await self.session.execute(stmt)).all()
            if any(str(i).startswith(wanted) for i in ids or [])
        ]  # fmt: skip

    async def digest(self, host_uuid: str) -> str | None:
        stmt = select(HostRow.network_digest).where(HostRow.uuid == host_uuid)
        value: str | None = await self.session.scalar(stmt)
        return value

    async def record(self, host_uuid: str, revision: int, digest: str, ids: list[str]) -> None:
        await self.session.execute(
            update(HostRow)
            .where(HostRow.uuid == host_uuid)
            .values(network_revision=revision, network_digest=digest, network_ids=ids)
        )
