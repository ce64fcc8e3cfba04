"""The end of a controller step: the cluster's status, and the end of the actions it serves;
and the deletion of a cluster, member by member."""

from __future__ import annotations

import time
from dataclasses import dataclass

from dockyard.db.clusters_tables import ClusterActionRow, ClusterRow
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.clusters import (
    ActionRepository,
    BindingRepository,
    ClusterRepository,
    ReceiverRepository,
)
from dockyard.domain.clusters import ActionStatus, ClusterStatus, NodeStatus
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.services.clusters_members import Members
from dockyard.services.clusters_nodes import EVENT_ERROR, EVENT_INFO, NodeWriter, record_event
from dockyard.services.clusters_world import World, settled_counts

# Actions that end when the cluster has converged (the others end when they are made).
_BUSY_STATUS = {
    "CLUSTER_CREATE": ClusterStatus.CREATING,
    "CLUSTER_UPDATE": ClusterStatus.UPDATING,
    "CLUSTER_RECOVER": ClusterStatus.RECOVERING,
    "CLUSTER_CHECK": ClusterStatus.CHECKING,
}


@dataclass
class Settler:
    sessions: Sessions
    members: Members
    nodes: NodeWriter

    async def settle(self, world: World) -> None:
        counts = settled_counts(world)
        cluster = world.cluster
        update = cluster.data.get("update") or {}
        failed_update = update.get("failed")
        pending = (
            counts["busy"] or counts["deleting"] or counts["live"] != cluster.desired_capacity
            or (counts["outdated"] and not failed_update and not update.get("cancelled"))
        )  # fmt: skip
        errors = counts["errors"]
        async with transaction(self.sessions) as session:
            actions = await ActionRepository(session, TenantScope.all_projects()).open_for(
                cluster.id
            )
            reason = _error_reason(errors, counts["live"]) or failed_update
            for action in actions:
                _advance(action, bool(pending), reason, failed_update)
            status, why = _cluster_status(world, bool(pending), actions, errors, failed_update)
            await self._set_status(session, cluster, status, why)

    async def _set_status(
        self, session: Session, cluster: ClusterRow, status: ClusterStatus, reason: str
    ) -> None:
        repo = ClusterRepository(session, TenantScope.all_projects())
        row = await repo.find(cluster.id, for_update=True)
        if row is None or row.status == ClusterStatus.DELETING.value:
            return  # deleted meanwhile: the delete decides from now on
        if (row.status, row.status_reason) != (status.value, reason):
            row.status, row.status_reason = status.value, reason
            level = EVENT_ERROR if status is ClusterStatus.ERROR else EVENT_INFO
            record_event(session, row, "CLUSTER_STATUS", status.value, reason, level)

    async def delete_cluster(self, ctx: RequestContext, world: World) -> None:
        """Delete every member's container; once all are gone, the cluster itself."""
        for node in world.nodes:
            if node.status != NodeStatus.DELETING.value:
                await self.nodes.update(
                    node, status=NodeStatus.DELETING.value, status_reason="Cluster deleted."
                )
            if node.physical_id and world.containers.get(node.id) is not None:
                await self.members.delete(ctx, node.physical_id)
            if node.data.get("retiring"):  # a recovery's predecessor still running
                await self.members.delete(ctx, str(node.data["retiring"]))
        if world.nodes:
            return
        async with transaction(self.sessions) as session:
            scope = TenantScope.all_projects()
            cluster = await ClusterRepository(session, scope).find(world.cluster.id)
            if cluster is None:
                return
            await BindingRepository(session).remove_all(cluster.id)
            receivers = ReceiverRepository(session, scope)
            for receiver in await receivers.list({"cluster_id": cluster.id}, limit=1000):
                await receivers.remove(receiver)
            for action in await ActionRepository(session, scope).open_for(cluster.id):
                action.start_time = action.start_time or time.time()
                _end(action, ActionStatus.SUCCEEDED, "Cluster deleted.")
            record_event(session, cluster, "CLUSTER_DELETE", "DELETED", "Cluster deleted.")
            await session.delete(cluster)


def _advance(
    action: ClusterActionRow, pending: bool, reason: str | None, failed_update: str | None
) -> None:
    """Start a READY action; end a running one when the cluster has converged (or failed).

    A READY action only starts here: the step's view of the cluster may predate the request
    that made it, so it can end no earlier than the next step, which sees that request.
    """
    now = time.time()
    if action.status == ActionStatus.READY.value:
        action.status, action.start_time = ActionStatus.RUNNING.value, now
        action.status_reason = "Action is running."
        return
    if action.action == "CLUSTER_UPDATE" and failed_update:
        _end(action, ActionStatus.FAILED, failed_update)
    elif not pending:
        if reason:
            _end(action, ActionStatus.FAILED, reason)
        else:
            _end(action, ActionStatus.SUCCEEDED, "Action completed successfully.")
    elif action.start_time and now - action.start_time > action.timeout:
        _end(action, ActionStatus.FAILED, f"Timed out after {action.timeout} seconds.")


def _end(action: ClusterActionRow, status: ActionStatus, reason: str) -> None:
    action.status, action.status_reason, action.end_time = status.value, reason, time.time()


def _error_reason(errors: list[object], live: int) -> str | None:
    if not errors:
        return None
    first = errors[0]
    what = getattr(first, "status_reason", "") or "failed"
    return f"{len(errors)} of {live} member(s) in ERROR; {getattr(first, 'name', '')}: {what}"


def _cluster_status(
    world: World,
    pending: bool,
    actions: list[ClusterActionRow] | object,
    errors: list[object],
    failed_update: str | None,
) -> tuple[ClusterStatus, str]:
    cluster = world.cluster
    if pending:
        kinds = [a.action for a in actions] if isinstance(actions, list) else []
        for kind in reversed(kinds):
            if kind in _BUSY_STATUS:
                return _BUSY_STATUS[kind], f"{kind} in progress."
        if cluster.status in (ClusterStatus.INIT.value, ClusterStatus.CREATING.value):
            return ClusterStatus.CREATING, "Creating the members."
        return ClusterStatus.RESIZING, (f"Converging to {cluster.desired_capacity} member(s).")
    if failed_update:
        return ClusterStatus.WARNING, failed_update
    # Senlin's eval_status: below min_size active members is ERROR, below desired WARNING.
    live = world.live()
    active = sum(1 for n in live if n.status == NodeStatus.ACTIVE.value)
    why = _error_reason(errors, len(live)) or "some members are not active"
    if active < cluster.min_size:
        return ClusterStatus.ERROR, (
            f"{active} active member(s), below min_size ({cluster.min_size}); {why}"
        )
    if active < cluster.desired_capacity:
        return ClusterStatus.WARNING, why
    return ClusterStatus.ACTIVE, "Cluster is ACTIVE."
