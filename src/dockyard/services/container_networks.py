"""A container's networks and security groups (Zun's nets, network_attach/detach/list,
add/remove_security_group, exposed_ports), on top of central IPAM (services/attachments.py).

A container's ports are made in the transaction that creates it and go with its row (ON
DELETE CASCADE), so an address is held exactly as long as its container exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.networks_tables import PortRow
from dockyard.db.repositories.containers import ContainerRepository
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.netplane import NetplaneRepository
from dockyard.db.repositories.ports import PortRepository
from dockyard.db.repositories.sandboxes import SandboxRepository
from dockyard.db.tables import ContainerRow
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import InvalidValue, SecurityGroupNotFound
from dockyard.schemas.containers import ContainerCreate
from dockyard.services import attachments
from dockyard.services.netevents import touch_hosts, touch_networks
from dockyard.services.project_defaults import ensure_project_defaults
from dockyard.services.secgroup_rows import DEFAULT
from dockyard.services.security_groups import exposing_group, groups_named

OWNED = frozenset({"default"})  # the engine-reported addresses' key (agent/reconcile.py)


def has_tenant_addresses(addresses: dict[str, Any] | None) -> bool:
    """True when the control plane set the addresses (keyed by network uuid): an engine's
    report must not replace them."""
    return bool(addresses) and not set(addresses or {}) <= OWNED


async def attach_on_create(session: Session, ctx: RequestContext, row: ContainerRow,
                           body: ContainerCreate) -> None:  # fmt: skip
    """The new container's ports (its `nets`, else the project's default network) and
    security groups; in the caller's transaction, after the row is flushed."""
    nets = attachments.parse_nets(body.nets)
    if body.security_groups and body.exposed_ports:
        raise InvalidValue("security_groups and exposed_ports cannot be given together.")
    if row.sandbox_uuid is not None and body.sandbox is not None:  # it joins a sandbox
        if nets or body.security_groups:
            raise InvalidValue("A container joining a sandbox uses the sandbox's networks.")
        shared = await NetplaneRepository(session).ports_of_sandboxes([row.sandbox_uuid])
        row.addresses = attachments.addresses_of([port for port, _ in shared])
        return
    groups = await groups_named(session, ctx.project_id, body.security_groups or [])
    if body.exposed_ports:
        groups.append(await exposing_group(session, ctx.project_id, row, row.spec.exposed_ports))
    group_ids = [g.uuid for g in groups]
    owner = {"container_uuid": row.uuid}
    locked = await attachments.lock_addresses(session, ctx.project_id, nets, default=not nets)
    ports = [await attachments.attach(session, ctx.project_id, owner, e, group_ids, locked)
             for e in nets]  # fmt: skip
    if not nets:
        ports.append(
            await attachments.attach_default(session, ctx.project_id, owner, group_ids, locked)
        )
    check_one_port_per_network(ports)
    row.addresses = attachments.addresses_of(ports)
    row.spec = replace(row.spec, security_groups=[g.name for g in groups])


async def renamed(session: Session, row: ContainerRow) -> None:
    """Its name is the DNS record of its addresses: wake the hosts of its networks."""
    ports = await PortRepository(session, TenantScope.all_projects()).of_owner(row.uuid)
    await touch_networks(session, {p.network_uuid for p in ports})


def check_one_port_per_network(ports: Sequence[PortRow]) -> None:
    seen = set()
    for port in ports:
        if port.network_uuid in seen:
            raise InvalidValue(f"Network {port.network_uuid} is given twice in nets.")
        seen.add(port.network_uuid)


@dataclass
class ContainerNetworking:
    sessions: Sessions

    async def _container(self, session: Session, ctx: RequestContext, ident: str) -> ContainerRow:
        scope = TenantScope.all_projects() if ctx.is_admin else TenantScope(ctx.project_id)
        row: ContainerRow = await ContainerRepository(session, scope).get(ident, for_update=True)
        return row

    async def _ensure_default_group(self, ctx: RequestContext, ident: str) -> None:
        """The container's project has its default group (made outside the caller's
        transaction: see project_defaults)."""
        async with self.sessions() as session:
            scope = TenantScope.all_projects() if ctx.is_admin else TenantScope(ctx.project_id)
            project_id = (await ContainerRepository(session, scope).get(ident)).project_id
        await ensure_project_defaults(self.sessions, project_id, network=False)

    async def ports(self, ctx: RequestContext, ident: str) -> Sequence[PortRow]:
        async with self.sessions() as session:
            row = await self._container(session, ctx, ident)
            return await PortRepository(session, TenantScope.all_projects()).of_owner(row.uuid)

    async def attach(
        self, ctx: RequestContext, ident: str, network: str | None, port: str | None,
        fixed_ip: str | None,
    ) -> None:  # fmt: skip
        """One more network (Zun 1.8): 400 if it is already connected; another project's: 404."""
        entry = attachments.parse_nets([{"network": network, "port": port,
                                         "v4-fixed-ip": fixed_ip}])[0]  # fmt: skip
        await self._ensure_default_group(ctx, ident)  # a container with no port joins it
        async with transaction(self.sessions) as session:
            row = await self._container(session, ctx, ident)
            _no_sandbox_member(row)
            repo = PortRepository(session, TenantScope.all_projects())
            have = await repo.of_owner(row.uuid)
            if "network" in entry:
                target = await attachments.network_for(session, row.project_id, entry["network"])
                if any(p.network_uuid == target.uuid for p in have):
                    raise InvalidValue(f"Network {entry['network']} is already connected to "
                                       f"the container {row.uuid}.")  # fmt: skip
            groups = list(have[0].security_groups) if have else await self._default(session, row)
            made = await attachments.attach(
                session, row.project_id, {"container_uuid": row.uuid}, entry, groups
            )
            row.addresses = attachments.addresses_of([*have, made])
            await touch_networks(session, [made.network_uuid])
            await _reassign(session, row)

    async def _default(self, session: Session, row: ContainerRow) -> list[str]:
        return [g.uuid for g in await groups_named(session, row.project_id, [])]

    async def detach(
        self, ctx: RequestContext, ident: str, network: str | None, port: str | None
    ) -> None:
        """Zun 1.6 (port 1.17): the attachments to that network, or that port, go."""
        if (network is None) == (port is None):
            raise InvalidValue("Give exactly one of network and port.")
        async with transaction(self.sessions) as session:
            row = await self._container(session, ctx, ident)
            repo = PortRepository(session, TenantScope.all_projects())
            have = await repo.of_owner(row.uuid)
            if network is not None:
                target = await attachments.network_for(session, row.project_id, network)
                gone = [p for p in have if p.network_uuid == target.uuid]
            else:
                gone = [p for p in have if p.uuid == port]
            if not gone:
                what = f"network {network}" if network else f"port {port}"
                raise InvalidValue(f"The container {row.uuid} is not connected to {what}.")
            hosts = await repo.hosts_of_networks({p.network_uuid for p in gone})
            for item in gone:
                await repo.delete(item)
            row.addresses = attachments.addresses_of([p for p in have if p not in gone])
            await touch_hosts(session, hosts)
            await _reassign(session, row)

    async def add_security_group(self, ctx: RequestContext, ident: str, name: str) -> None:
        if name == DEFAULT:
            await self._ensure_default_group(ctx, ident)
        async with transaction(self.sessions) as session:
            row = await self._container(session, ctx, ident)
            group = (await groups_named(session, row.project_id, [name]))[0]
            if group.name in row.spec.security_groups:
                raise InvalidValue(f"Security group {name} is already added to the container.")
            await self._set_groups(session, row, lambda ids: [*ids, group.uuid])
            row.spec = replace(row.spec, security_groups=[*row.spec.security_groups, group.name])

    async def remove_security_group(self, ctx: RequestContext, ident: str, name: str) -> None:
        if name == DEFAULT:
            await self._ensure_default_group(ctx, ident)
        async with transaction(self.sessions) as session:
            row = await self._container(session, ctx, ident)
            group = (await groups_named(session, row.project_id, [name]))[0]
            if group.name not in row.spec.security_groups:
                raise SecurityGroupNotFound(f"Security group {name} is not on the container.")
            await self._set_groups(session, row, lambda ids: [i for i in ids if i != group.uuid])
            kept = [n for n in row.spec.security_groups if n != group.name]
            row.spec = replace(row.spec, security_groups=kept)

    async def _set_groups(self, session: Session, row: ContainerRow, change: Any) -> None:
        ports = await PortRepository(session, TenantScope.all_projects()).of_owner(row.uuid)
        for port in ports:
            port.security_groups = list(change(list(port.security_groups)))
        await touch_networks(session, {p.network_uuid for p in ports})
        await _reassign(session, row)


async def _reassign(session: Session, row: ContainerRow) -> None:
    """Its ports changed: the container (and its sandbox) go to the agent again."""
    if row.host_uuid is None:
        return
    row.revision = await HostRepository(session).bump_revision(row.host_uuid)
    if row.sandbox_uuid is not None:
        sandbox = await SandboxRepository(session, TenantScope.all_projects()).find(
            row.sandbox_uuid
        )
        if sandbox is not None:
            sandbox.revision = row.revision


def _no_sandbox_member(row: ContainerRow) -> None:
    """Ports belong to a container, or to the first container of a shared sandbox."""
    if row.capsule_uuid is not None:
        raise InvalidValue("A capsule's containers share the capsule's networks.")
