"""Security group rows as Neutron makes them, for the group service and the project defaults."""

from __future__ import annotations

from typing import Any

from dockyard.db.engine import Session
from dockyard.db.networks_tables import SecurityGroupRow, SecurityGroupRuleRow
from dockyard.db.tables import new_uuid

DEFAULT = "default"  # the group every project has, and its containers join unless told


def rule_row(group: SecurityGroupRow, direction: str, ethertype: str, **extra: Any) -> Any:
    return SecurityGroupRuleRow(
        uuid=new_uuid(), project_id=group.project_id, security_group_uuid=group.uuid,
        direction=direction, ethertype=ethertype, **extra,
    )  # fmt: skip


async def new_group(session: Session, project_id: str, name: str, **fields: Any) -> Any:
    """A group with Neutron's two egress rules (anything may go out)."""
    group = SecurityGroupRow(uuid=new_uuid(), project_id=project_id, name=name, **fields)
    session.add(group)
    await session.flush()
    session.add_all([rule_row(group, "egress", e) for e in ("IPv4", "IPv6")])
    return group
