"""Security groups (Neutron's shapes): a `default` group in every project (members reach each
other, everything may go out), groups and rules a project makes, and Zun's per-container
group that opens a container's `exposed_ports`. Hosts get the rules with addresses resolved."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.networks_tables import SecurityGroupRow, SecurityGroupRuleRow
from dockyard.db.repositories.ports import PortRepository
from dockyard.db.repositories.security_groups import (
    SecurityGroupRepository,
    SecurityGroupRuleRepository,
)
from dockyard.domain.containerspec import port_of
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import (
    Conflict,
    InvalidValue,
    ProjectDefaultMissing,
    SecurityGroupInUse,
    SecurityGroupNotFound,
)
from dockyard.schemas.networks import (
    SecurityGroupCreate,
    SecurityGroupRuleCreate,
    SecurityGroupUpdate,
)
from dockyard.services.netevents import touch_groups
from dockyard.services.networks import owner_of, scope_of
from dockyard.services.project_defaults import ensure_project_defaults
from dockyard.services.secgroup_rows import DEFAULT, new_group, rule_row

_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}


async def default_group(session: Session, project_id: str) -> SecurityGroupRow:
    """The project's `default` group (project_defaults.ensure_project_defaults made it
    before this transaction began)."""
    found = await SecurityGroupRepository(session, TenantScope(project_id)).find_named(
        project_id, DEFAULT
    )
    if found is None:  # an administrator deleted it since: the caller may try again
        raise ProjectDefaultMissing(what="default security group")
    return found


async def groups_named(session: Session, project_id: str, names: Sequence[str]) -> list[Any]:
    """The project's groups by name or uuid (the default one when none); unknown: 404."""
    repo = SecurityGroupRepository(session, TenantScope(project_id))
    found: list[Any] = []
    for name in names or [DEFAULT]:
        group = await default_group(session, project_id) if name == DEFAULT else None
        group = group or await repo.find(name) or await repo.find_named(project_id, name)
        if group is None:
            raise SecurityGroupNotFound(ident=name)
        if group.uuid not in [g.uuid for g in found]:
            found.append(group)
    return found


async def exposing_group(
    session: Session, project_id: str, container: Any, exposed: Sequence[str]
) -> SecurityGroupRow:
    """Zun's group of one container that opens its exposed ports to everyone."""
    group: SecurityGroupRow = await new_group(
        session, project_id, f"{container.name}-{container.uuid[:8]}",
        description=f"Exposed ports of container {container.uuid}", container_uuid=container.uuid,
    )  # fmt: skip
    for text in exposed:
        port, proto = port_of(text)
        session.add(rule_row(group, "ingress", "IPv4", protocol=proto, port_range_min=port,
                          port_range_max=port, remote_ip_prefix="0.0.0.0/0"))  # fmt: skip
    await session.flush()
    return group


@dataclass
class SecurityGroupService:
    sessions: Sessions

    async def list_groups(self, ctx: RequestContext, filters: Any) -> list[tuple[Any, list[Any]]]:
        # Neutron shows the default group from the start.
        await ensure_project_defaults(self.sessions, ctx.project_id, network=False)
        async with self.sessions() as session:
            groups = await SecurityGroupRepository(session, scope_of(ctx)).list(filters)
            rules = await SecurityGroupRuleRepository(session, scope_of(ctx)).of_groups(
                [g.uuid for g in groups]
            )
        return [(g, rules[g.uuid]) for g in groups]

    async def get(self, ctx: RequestContext, ident: str) -> tuple[Any, list[Any]]:
        async with self.sessions() as session:
            group = await SecurityGroupRepository(session, scope_of(ctx)).get(ident)
            rules = await SecurityGroupRuleRepository(session, scope_of(ctx)).of_groups([ident])
        return group, rules[group.uuid]

    async def create(self, ctx: RequestContext, body: SecurityGroupCreate) -> tuple[Any, list[Any]]:
        project = owner_of(ctx, body.project_id, body.tenant_id)
        if body.name == DEFAULT:
            raise Conflict("Default security group already exists.")
        async with transaction(self.sessions) as session:
            group = await new_group(session, project, body.name, description=body.description,
                                    stateful=body.stateful)  # fmt: skip
        return await self.get(ctx, group.uuid)

    async def update(
        self, ctx: RequestContext, ident: str, patch: SecurityGroupUpdate
    ) -> tuple[Any, list[Any]]:
        async with transaction(self.sessions) as session:
            group = await SecurityGroupRepository(session, scope_of(ctx)).get_owned(ident)
            if group.name == DEFAULT and patch.name not in (None, DEFAULT):
                raise Conflict("Updating default security group not allowed.")
            if group.name != DEFAULT and patch.name == DEFAULT:  # one per project (unique)
                raise Conflict("Default security group already exists.")
            for name, value in patch.model_dump(exclude_none=True).items():
                setattr(group, name, value)
            group.revision_number += 1
        return await self.get(ctx, ident)

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = SecurityGroupRepository(session, scope_of(ctx))
            group = await repo.get_owned(ident, for_update=True)
            if group.name == DEFAULT and not ctx.is_admin:
                raise Conflict("Removing default security group not allowed.")
            ports = await PortRepository(session, TenantScope.all_projects()).list({})
            if any(group.uuid in p.security_groups for p in ports):
                raise SecurityGroupInUse(ident=group.uuid)
            await touch_groups(session, [group.uuid])
            await repo.delete(group)

    # --- rules -----------------------------------------------------------------------------

    async def list_rules(self, ctx: RequestContext, filters: Any) -> Sequence[Any]:
        async with self.sessions() as session:
            return await SecurityGroupRuleRepository(session, scope_of(ctx)).list(filters)

    async def get_rule(self, ctx: RequestContext, ident: str) -> Any:
        async with self.sessions() as session:
            return await SecurityGroupRuleRepository(session, scope_of(ctx)).get(ident)

    async def create_rule(self, ctx: RequestContext, body: SecurityGroupRuleCreate) -> Any:
        fields = _rule_fields(body)
        async with transaction(self.sessions) as session:
            groups = SecurityGroupRepository(session, scope_of(ctx))
            group = await groups.get_owned(body.security_group_id)
            if body.remote_group_id is not None:
                await groups.get(body.remote_group_id)
            existing = await SecurityGroupRuleRepository(session, scope_of(ctx)).of_groups(
                [group.uuid])  # fmt: skip
            key = {**fields, "direction": body.direction, "ethertype": body.ethertype,
                   "remote_group_uuid": body.remote_group_id}  # fmt: skip
            if any(_same(r, key) for r in existing[group.uuid]):
                raise Conflict("Security group rule already exists.")
            rule = rule_row(group, body.direction, body.ethertype, description=body.description,
                         remote_group_uuid=body.remote_group_id, **fields)  # fmt: skip
            session.add(rule)
            await touch_groups(session, [group.uuid])
        return rule

    async def delete_rule(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = SecurityGroupRuleRepository(session, scope_of(ctx))
            rule = await repo.get_owned(ident)
            await touch_groups(session, [rule.security_group_uuid])
            await repo.delete(rule)


def _rule_fields(body: SecurityGroupRuleCreate) -> dict[str, Any]:
    """Protocol, ports and remote prefix checked as Neutron checks them."""
    protocol = None if body.protocol in (None, "", "any") else str(body.protocol).lower()
    if protocol is not None and protocol not in _PROTOCOLS and not protocol.isdigit():
        raise InvalidValue(f"Security group rule protocol {protocol} not supported.")
    low, high = body.port_range_min, body.port_range_max
    if (low is not None or high is not None) and protocol not in ("tcp", "udp", "6", "17"):
        raise InvalidValue("Port ranges need protocol tcp or udp.")
    if low is not None and high is not None and low > high:
        raise InvalidValue("port_range_min must be <= port_range_max.")
    prefix = body.remote_ip_prefix
    if prefix is not None:
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise InvalidValue(f"Invalid remote_ip_prefix {prefix}.") from None
        if (net.version == 4) != (body.ethertype == "IPv4"):
            raise InvalidValue(f"remote_ip_prefix {prefix} does not match {body.ethertype}.")
        prefix = str(net)
    if prefix is not None and body.remote_group_id is not None:
        raise InvalidValue("Only remote_ip_prefix or remote_group_id may be provided.")
    if low is not None and high is None:
        high = low
    return {"protocol": protocol, "port_range_min": low, "port_range_max": high,
            "remote_ip_prefix": prefix}  # fmt: skip


def _same(rule: SecurityGroupRuleRow, fields: dict[str, Any]) -> bool:
    return all(getattr(rule, k) == v for k, v in fields.items())


# The list filters of the two collections (wire name → column).
FILTERS: dict[str, dict[str, Any]] = {
    "security-groups": SecurityGroupRepository.columns,
    "security-group-rules": SecurityGroupRuleRepository.columns,
}
