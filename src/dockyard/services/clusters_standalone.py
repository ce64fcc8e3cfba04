"""Standalone nodes (Senlin's nodes made without a cluster): one container of a profile, made
at once by the request, that `cluster members add` or `members replace` can later put into a
cluster of the same profile. No controller watches them, so their status is read from their
container whenever they are shown."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.db.clusters_tables import ClusterNodeRow
from dockyard.db.engine import Sessions, transaction
from dockyard.db.repositories.clusters import ProfileRepository
from dockyard.domain.clusters import ActionStatus, NodeStatus
from dockyard.domain.tenancy import Authorizer, RequestContext
from dockyard.errors import DockyardError
from dockyard.schemas.clusters import as_map, as_name
from dockyard.services.clusters import scope_of
from dockyard.services.clusters_members import (
    Members,
    Placement,
    controller_context,
    describe,
)
from dockyard.services.clusters_nodes import new_action
from dockyard.services.clusters_views import View, node_view
from dockyard.services.clusters_world import node_status

LABEL_STANDALONE = "io.dockyard.cluster.standalone-node"


@dataclass
class StandaloneNodes:
    sessions: Sessions
    members: Members
    rules: Authorizer

    async def create(self, ctx: RequestContext, data: dict[str, Any]) -> tuple[View, str]:
        """A node without a cluster and its container (named after the node)."""
        async with transaction(self.sessions) as session:
            profile = await ProfileRepository(session, scope_of(ctx)).get(
                str(data.get("profile_id"))
            )
            name = as_name(data.get("name"))
            node = ClusterNodeRow(
                project_id=ctx.project_id, user_id=ctx.user_id, name=name, cluster_id=None,
                profile_id=profile.id, index=-1, role=data.get("role"),
                status=NodeStatus.CREATING.value, status_reason="Creating the node.",
                meta_data=as_map(data.get("metadata"), "metadata"), data={}, tainted=False,
            )  # fmt: skip
            session.add(node)
            await session.flush()
            node.data = {"container_name": f"node-{node.id[:8]}"}
        action = await self._make(ctx, node, profile)
        return node_view(node, profile.name), action

    async def _make(self, ctx: RequestContext, node: ClusterNodeRow, profile: Any) -> str:
        """Ask for the node's container; a refusal leaves the node in ERROR, saying why."""
        labels = {LABEL_STANDALONE: node.id}
        values: dict[str, Any]
        try:
            actor = controller_context(ctx.project_id, ctx.user_id, self.rules)
            uuid = await self.members.make(actor, profile, node.data["container_name"], labels,
                                           Placement())  # fmt: skip
            values = {"physical_id": uuid, "status_reason": "Container accepted."}
            status = ActionStatus.SUCCEEDED
        except DockyardError as exc:
            values = {"status": NodeStatus.ERROR.value, "status_reason": describe(exc)}
            status = ActionStatus.FAILED
        async with transaction(self.sessions) as session:
            row = await session.get(ClusterNodeRow, node.id, with_for_update=True)
            for key, value in values.items():
                setattr(node, key, value)
                if row is not None:  # (deleted meanwhile: the action still says what happened)
                    setattr(row, key, value)
            action = new_action(node, "NODE_CREATE", user_id=ctx.user_id, status=status)
            action.status_reason = node.status_reason
            session.add(action)
        return action.id

    async def refresh(self, ctx: RequestContext, rows: Sequence[ClusterNodeRow]) -> None:
        """Bring the status of the standalone nodes among rows up to their containers'."""
        for row in rows:
            if row.cluster_id is not None or not row.physical_id:
                continue
            container = await self.members.find(ctx, row.physical_id)
            status, reason = node_status(container, row.status)
            if (status, reason) == (row.status, row.status_reason):
                continue
            async with transaction(self.sessions) as session:
                found = await session.get(ClusterNodeRow, row.id, with_for_update=True)
                if found is not None and found.cluster_id is None:
                    found.status, found.status_reason = status, reason
                    row.status, row.status_reason = status, reason

    async def delete(self, ctx: RequestContext, node: ClusterNodeRow) -> str:
        """Remove a node that is in no cluster, and its container (outside the transaction:
        the container service writes in its own)."""
        if node.physical_id:
            actor = controller_context(ctx.project_id, ctx.user_id, self.rules)
            await self.members.delete(actor, node.physical_id)
        async with transaction(self.sessions) as session:
            row = await session.get(ClusterNodeRow, node.id, with_for_update=True)
            action = new_action(node, "NODE_DELETE", user_id=ctx.user_id,
                                status=ActionStatus.SUCCEEDED)  # fmt: skip
            session.add(action)
            if row is not None:
                await session.delete(row)
        return action.id
