"""Writes the cluster controller makes to nodes, actions and events, each its own transaction
(the controller holds the cluster's lease, so no other controller writes them meanwhile)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dockyard.db.clusters_tables import (
    ClusterActionRow,
    ClusterEventRow,
    ClusterNodeRow,
    ClusterRow,
)
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.clusters import ClusterRepository
from dockyard.domain.clusters import ActionStatus, NodeStatus
from dockyard.domain.tenancy import TenantScope

EVENT_INFO, EVENT_WARNING, EVENT_ERROR = 20, 30, 40


def record_event(
    session: Session,
    obj: ClusterRow | ClusterNodeRow,
    action: str,
    status: str,
    reason: str | None,
    level: int = EVENT_INFO,
) -> None:
    """An event about a cluster or a node, in the caller's transaction."""
    is_node = isinstance(obj, ClusterNodeRow)
    session.add(
        ClusterEventRow(
            project_id=obj.project_id, user_id=obj.user_id, oid=obj.id, oname=obj.name,
            otype="NODE" if is_node else "CLUSTER",
            cluster_id=obj.cluster_id if isinstance(obj, ClusterNodeRow) else obj.id,
            action=action, status=status, status_reason=reason, level=level, meta_data={},
        )
    )  # fmt: skip


def new_action(
    obj: ClusterRow | ClusterNodeRow,
    action: str,
    *,
    user_id: str,
    inputs: dict[str, Any] | None = None,
    status: ActionStatus = ActionStatus.READY,
    cause: str = "RPC Request",
) -> ClusterActionRow:
    """An action on a cluster or node (Senlin names it `<verb>_<short id>`)."""
    cluster_id = obj.cluster_id if isinstance(obj, ClusterNodeRow) else obj.id
    verb = action.split("_", 1)[1].lower() if "_" in action else action.lower()
    row = ClusterActionRow(
        project_id=obj.project_id, user_id=user_id, name=f"{verb}_{obj.id[:8]}", action=action,
        target=obj.id, cluster_id=cluster_id, cause=cause, status=status.value,
        inputs=inputs or {}, outputs={}, timeout=getattr(obj, "timeout", 3600) or 3600,
    )  # fmt: skip
    if status is not ActionStatus.READY:
        row.start_time = row.end_time = time.time()
        row.status_reason = "Action completed successfully."
    return row


@dataclass
class NodeWriter:
    sessions: Sessions

    async def update(self, node: ClusterNodeRow, **values: Any) -> None:
        """Set node fields (and the copy the step holds)."""
        async with transaction(self.sessions) as session:
            row = await session.get(ClusterNodeRow, node.id, with_for_update=True)
            if row is None:
                return
            for key, value in values.items():
                setattr(row, key, value)
                setattr(node, key, value)
            if "status" in values:
                level = EVENT_ERROR if values["status"] == NodeStatus.ERROR.value else EVENT_INFO
                record_event(session, row, "NODE_STATUS", row.status, row.status_reason, level)

    async def remove(self, node: ClusterNodeRow) -> None:
        async with transaction(self.sessions) as session:
            row = await session.get(ClusterNodeRow, node.id)
            if row is not None:
                record_event(session, row, "NODE_DELETE", "DELETED", "The member is gone.")
                await session.delete(row)

    async def add(
        self, cluster: ClusterRow, profile_id: str, data: dict[str, Any]
    ) -> ClusterNodeRow:
        """A new member row (CREATING, no container yet) with the cluster's next index."""
        async with transaction(self.sessions) as session:
            locked = await ClusterRepository(session, TenantScope.all_projects()).get(
                cluster.id, for_update=True
            )
            index = locked.next_index
            locked.next_index = index + 1
            name = f"node-{cluster.id[:8]}-{index:03d}"
            node = ClusterNodeRow(
                project_id=cluster.project_id, user_id=cluster.user_id, name=name,
                cluster_id=cluster.id, profile_id=profile_id, index=index,
                status=NodeStatus.CREATING.value, status_reason="Creating the member.",
                meta_data={}, data={**data, "container_name": name}, tainted=False,
            )  # fmt: skip
            session.add(node)
            await session.flush()
            record_event(session, node, "NODE_CREATE", node.status, node.status_reason)
            return node

    async def action(self, row: ClusterActionRow, node: ClusterNodeRow | None = None) -> None:
        """Record an action; one the controller took on its own (and ended) on `node` is an
        event of that node too, as every action is in Senlin's event list."""
        async with transaction(self.sessions) as session:
            session.add(row)
            if node is not None:
                record_event(session, node, row.action, row.status, row.status_reason)
