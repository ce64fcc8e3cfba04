"""Security groups and their rules, seen through a scope."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, ClassVar

from sqlalchemy import select

from dockyard.db.networks_tables import SecurityGroupRow, SecurityGroupRuleRow
from dockyard.db.repositories.networks import NeutronRepository, neutron_columns
from dockyard.errors import SecurityGroupNotFound, SecurityGroupRuleNotFound


class SecurityGroupRepository(NeutronRepository):
    row = SecurityGroupRow
    not_found = SecurityGroupNotFound
    kind = "security group"
    columns: ClassVar[dict[str, Any]] = neutron_columns(SecurityGroupRow, "name", "description")

    async def find_named(self, project_id: str, name: str) -> SecurityGroupRow | None:
        stmt = select(SecurityGroupRow).where(
            SecurityGroupRow.project_id == project_id, SecurityGroupRow.name == name
        )
        return (await self.session.scalars(stmt.order_by(SecurityGroupRow.created_at))).first()

    async def of_container(self, container_uuid: str) -> SecurityGroupRow | None:
        stmt = select(SecurityGroupRow).where(SecurityGroupRow.container_uuid == container_uuid)
        return (await self.session.scalars(stmt)).first()

    async def by_uuids(self, uuids: Collection[str]) -> Sequence[SecurityGroupRow]:
        stmt = select(SecurityGroupRow).where(SecurityGroupRow.uuid.in_(uuids))
        return (await self.session.scalars(stmt)).all()


class SecurityGroupRuleRepository(NeutronRepository):
    row = SecurityGroupRuleRow
    not_found = SecurityGroupRuleNotFound
    kind = "security group rule"
    columns: ClassVar[dict[str, Any]] = neutron_columns(
        SecurityGroupRuleRow, "direction", "ethertype", "protocol", "remote_ip_prefix",
        "description", security_group_id="security_group_uuid",
        remote_group_id="remote_group_uuid",
    )  # fmt: skip

    async def of_groups(self, groups: Collection[str]) -> dict[str, list[SecurityGroupRuleRow]]:
        found: dict[str, list[SecurityGroupRuleRow]] = {g: [] for g in groups}
        stmt = select(SecurityGroupRuleRow).where(
            SecurityGroupRuleRow.security_group_uuid.in_(groups)
        )
        for rule in await self.session.scalars(stmt.order_by(SecurityGroupRuleRow.created_at)):
            found[rule.security_group_uuid].append(rule)
        return found
