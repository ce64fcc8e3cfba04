"""Clustering use cases around clusters: nodes, receivers and their webhooks, actions, events
and policy bindings."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.db.clusters_tables import ClusterNodeRow, ClusterReceiverRow, ClusterRow
from dockyard.db.engine import Sessions, transaction
from dockyard.db.repositories.clusters import (
    ActionRepository,
    BindingRepository,
    ClusterRepository,
    EventRepository,
    NodeRepository,
    ProfileRepository,
    ReceiverRepository,
)
from dockyard.domain.clusters import ACTION_DONE, ActionStatus, ClusterObjectNotFound, NodeStatus
from dockyard.domain.tenancy import Authorizer, RequestContext, TenantScope
from dockyard.errors import Conflict, InvalidValue
from dockyard.schemas.clusters import (
    RECEIVER_ACTIONS,
    as_map,
    as_name,
    envelope,
    only,
)
from dockyard.services.clusters import Query, scope_of
from dockyard.services.clusters_actions import ClusterActions
from dockyard.services.clusters_nodes import new_action
from dockyard.services.clusters_standalone import StandaloneNodes
from dockyard.services.clusters_views import (
    View,
    action_view,
    binding_view,
    event_view,
    node_view,
    receiver_view,
)

_VERB_OF = {
    "CLUSTER_SCALE_OUT": "scale_out",
    "CLUSTER_SCALE_IN": "scale_in",
    "CLUSTER_RESIZE": "resize",
    "CLUSTER_CHECK": "check",
    "CLUSTER_RECOVER": "recover",
}


# Cancelling these stops the cluster where it stands (other actions are done when recorded,
# or have nothing left to stop).
_STOPPABLE = {"CLUSTER_UPDATE", "CLUSTER_CREATE", "CLUSTER_RESIZE", "CLUSTER_SCALE_OUT"}


async def _stop(session: Any, cluster: ClusterRow, kind: str) -> None:
    """A cancelled update keeps the members it has not replaced yet; a cancelled growth keeps
    the members made so far (the desired capacity becomes their count, within min_size)."""
    if kind == "CLUSTER_UPDATE":
        update = cluster.data.get("update") or {}
        if update:
            cluster.data = {**cluster.data, "update": {**update, "cancelled": True}}
        return
    nodes = await NodeRepository(session, TenantScope.all_projects()).members(cluster.id)
    live = sum(1 for n in nodes if n.status != NodeStatus.DELETING.value)
    cluster.desired_capacity = max(min(live, cluster.desired_capacity), cluster.min_size)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class ClusterObjects:
    sessions: Sessions
    actions: ClusterActions
    rules: Authorizer
    wake: Callable[[], None] = field(default=lambda: None)
    standalone: StandaloneNodes | None = None  # nodes made without a cluster

    # --- nodes -------------------------------------------------------------------------------

    async def create_node(self, ctx: RequestContext, body: dict[str, Any]) -> tuple[View, str]:
        """A new member of a cluster (the cluster grows by one; the controller makes it)."""
        data = envelope(body, "node")
        only(data, {"name", "profile_id", "cluster_id", "role", "metadata"}, "node")
        if not data.get("cluster_id"):
            if self.standalone is None:
                raise InvalidValue("Nodes without a cluster are not served: give 'cluster_id'.")
            return await self.standalone.create(ctx, data)
        async with transaction(self.sessions) as session:
            scope = scope_of(ctx)
            cluster = await ClusterRepository(session, scope).get(str(data["cluster_id"]))
            profile = await ProfileRepository(session, scope).get(str(data.get("profile_id")))
            if profile.id != cluster.profile_id:
                raise InvalidValue("A member's profile must be its cluster's profile.")
            await self.actions.grow(session, cluster, 1)
            index = cluster.next_index
            cluster.next_index += 1
            name = as_name(data.get("name") or f"node-{cluster.id[:8]}-{index:03d}")
            node = ClusterNodeRow(
                project_id=ctx.project_id, user_id=ctx.user_id, name=name,
                cluster_id=cluster.id, profile_id=profile.id, index=index,
                role=data.get("role"), status=NodeStatus.CREATING.value,
                status_reason="Creating the member.",
                meta_data=as_map(data.get("metadata"), "metadata"),
                data={"container_name": f"node-{cluster.id[:8]}-{index:03d}"}, tainted=False,
            )  # fmt: skip
            session.add(node)
            await session.flush()
            action = new_action(node, "NODE_CREATE", user_id=ctx.user_id)
            session.add(action)
            view = node_view(node, profile.name)
        self.wake()
        return view, action.id

    async def list_nodes(self, ctx: RequestContext, query: Query) -> list[View]:
        async with self.sessions() as session:
            filters = dict(query.filters)
            if "cluster_id" in filters:  # a name or short id, resolved in the caller's scope
                scope = scope_of(ctx, query.global_project)
                found = await ClusterRepository(session, scope).get(str(filters["cluster_id"]))
                filters["cluster_id"] = found.id
            repo = NodeRepository(session, scope_of(ctx, query.global_project))
            rows = await repo.list(filters, limit=query.limit, marker=query.marker,
                                   sort=query.sort)  # fmt: skip
            names = await self._profile_names(session, rows)
        if self.standalone is not None:
            await self.standalone.refresh(ctx, rows)
        return [node_view(r, names.get(r.profile_id, "")) for r in rows]

    async def get_node(self, ctx: RequestContext, ident: str, details: bool = False) -> View:
        async with self.sessions() as session:
            row = await NodeRepository(session, scope_of(ctx)).get(ident)
            names = await self._profile_names(session, [row])
        if self.standalone is not None:
            await self.standalone.refresh(ctx, [row])
        extra = {"container": row.physical_id, **row.data} if details else None
        return node_view(row, names.get(row.profile_id, ""), extra)

    async def _profile_names(self, session: Any, rows: Any) -> dict[str, str]:
        repo = ProfileRepository(session, TenantScope.all_projects())
        return {p: (await repo.get(p)).name for p in {r.profile_id for r in rows}}

    async def update_node(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> str:
        data = envelope(body, "node")
        only(data, {"name", "role", "metadata"}, "node update")
        async with transaction(self.sessions) as session:
            row = await NodeRepository(session, scope_of(ctx)).get(ident, for_update=True)
            if data.get("name") is not None:
                row.name = as_name(data["name"])
            if "role" in data:
                row.role = data["role"]
            if data.get("metadata") is not None:
                row.meta_data = as_map(data["metadata"], "metadata")
            action = new_action(row, "NODE_UPDATE", user_id=ctx.user_id, inputs=data,
                                status=ActionStatus.SUCCEEDED)  # fmt: skip
            session.add(action)
        return action.id

    async def delete_node(self, ctx: RequestContext, ident: str) -> str:
        """Remove a member (its cluster shrinks by one, Senlin's node delete), or a node in no
        cluster with its container."""
        async with self.sessions() as session:
            node = await NodeRepository(session, scope_of(ctx)).get(ident)
        if node.cluster_id is None:
            if self.standalone is None:
                raise InvalidValue("This node is not a member of a cluster.")
            return await self.standalone.delete(ctx, node)
        async with transaction(self.sessions) as session:
            cluster = await ClusterRepository(session, scope_of(ctx)).get(node.cluster_id)
            params = {"nodes": [node.id], "destroy_after_deletion": True}
            action_id = await self.actions.run_in(session, ctx, cluster, {"del_nodes": params})
        self.wake()
        return action_id

    async def node_action(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> str:
        if len(body) != 1 or next(iter(body)) not in ("check", "recover"):
            raise InvalidValue("A node action is one of 'check' or 'recover'.")
        verb, params = next(iter(body.items()))
        async with transaction(self.sessions) as session:
            node = await NodeRepository(session, scope_of(ctx)).get(ident, for_update=True)
            if verb == "recover":
                operation = str((params or {}).get("operation") or "RECREATE").upper()
                node.data = {**node.data, "recover_requested": operation}
                node.status = NodeStatus.RECOVERING.value
            status = ActionStatus.SUCCEEDED if verb == "check" else ActionStatus.READY
            action = new_action(node, f"NODE_{verb.upper()}", user_id=ctx.user_id,
                                inputs=params or {}, status=status)  # fmt: skip
            session.add(action)
        self.wake()
        return action.id

    # --- receivers and webhooks -------------------------------------------------------------

    async def create_receiver(self, ctx: RequestContext, body: dict[str, Any], base: str) -> View:
        data = envelope(body, "receiver")
        only(data, {"name", "type", "cluster_id", "action", "params", "actor"}, "receiver")
        if data.get("type") == "message":
            raise InvalidValue(
                "Receiver type 'message' is not supported: its queue is a Zaqar queue, and this "
                "service has no messaging service; use a 'webhook' receiver."
            )
        if data.get("type") != "webhook":
            raise InvalidValue(f"Receiver type '{data.get('type')}' is not supported; use webhook.")
        action = data.get("action")
        if action not in RECEIVER_ACTIONS:
            raise InvalidValue(f"Illegal action '{action}' specified for the receiver.")
        secret = secrets.token_urlsafe(32)
        async with transaction(self.sessions) as session:
            cluster = await ClusterRepository(session, scope_of(ctx)).get(
                str(data.get("cluster_id") or "")
            )
            row = ClusterReceiverRow(
                project_id=ctx.project_id, user_id=ctx.user_id, name=as_name(data.get("name")),
                type="webhook", cluster_id=cluster.id, action=action,
                params=as_map(data.get("params"), "params"), roles=sorted(ctx.roles),
                secret=secret, secret_hash=_digest(secret),
            )  # fmt: skip
            session.add(row)
        return receiver_view(row, base)

    async def list_receivers(self, ctx: RequestContext, query: Query, base: str) -> list[View]:
        async with self.sessions() as session:
            repo = ReceiverRepository(session, scope_of(ctx, query.global_project))
            rows = await repo.list(query.filters, limit=query.limit, marker=query.marker,
                                   sort=query.sort)  # fmt: skip
        return [receiver_view(r, base) for r in rows]

    async def get_receiver(self, ctx: RequestContext, ident: str, base: str) -> View:
        async with self.sessions() as session:
            return receiver_view(await ReceiverRepository(session, scope_of(ctx)).get(ident), base)

    async def update_receiver(
        self, ctx: RequestContext, ident: str, body: dict[str, Any], base: str
    ) -> View:
        data = envelope(body, "receiver")
        only(data, {"name", "action", "params"}, "receiver update")
        async with transaction(self.sessions) as session:
            row = await ReceiverRepository(session, scope_of(ctx)).get(ident, for_update=True)
            if data.get("name") is not None:
                row.name = as_name(data["name"])
            if data.get("action") is not None:
                if data["action"] not in RECEIVER_ACTIONS:
                    raise InvalidValue(f"Illegal action '{data['action']}' for the receiver.")
                row.action = data["action"]
            if data.get("params") is not None:
                row.params = as_map(data["params"], "params")
        return receiver_view(row, base)

    async def delete_receiver(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = ReceiverRepository(session, scope_of(ctx))
            await repo.remove(await repo.get(ident))

    async def trigger(self, secret: str, params: dict[str, Any]) -> str:
        """Run the receiver's one action as its creator; 404 for an unknown (or deleted) URL."""
        async with self.sessions() as session:
            receiver = await ReceiverRepository(session, TenantScope.all_projects()).by_secret_hash(
                _digest(secret)
            )
        if receiver is None or receiver.cluster_id is None:
            raise ClusterObjectNotFound(kind="webhook", ident="(secret)")
        actor = RequestContext(receiver.project_id, receiver.user_id,
                               frozenset(receiver.roles), policy=self.rules)  # fmt: skip
        verb = _VERB_OF[receiver.action]
        merged = {**receiver.params, **{k: v for k, v in params.items() if k != "V"}}
        return await self.actions.run(actor, receiver.cluster_id, {verb: merged})

    # --- actions, events, bindings -----------------------------------------------------------

    async def list_actions(self, ctx: RequestContext, query: Query) -> list[View]:
        async with self.sessions() as session:
            repo = ActionRepository(session, scope_of(ctx, query.global_project))
            rows = await repo.list(query.filters, limit=query.limit, marker=query.marker,
                                   sort=query.sort)  # fmt: skip
        return [action_view(r) for r in rows]

    async def get_action(self, ctx: RequestContext, ident: str) -> View:
        async with self.sessions() as session:
            return action_view(await ActionRepository(session, scope_of(ctx)).get(ident))

    async def cancel_action(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> None:
        """End the action CANCELLED and stop its work where it stands: a rolling update
        replaces no further batch, a growth creates no further member."""
        data = envelope(body, "action")
        if data.get("status") != ActionStatus.CANCELLED.value:
            raise InvalidValue("An action can only be updated to status CANCELLED.")
        async with transaction(self.sessions) as session:
            row = await ActionRepository(session, scope_of(ctx)).get(ident, for_update=True)
            if row.status in {s.value for s in ACTION_DONE}:
                raise Conflict(f"The action '{ident}' has ended ({row.status}).")
            row.status, row.status_reason = ActionStatus.CANCELLED.value, "Cancelled by request."
            row.end_time = time.time()
            if row.cluster_id and row.action in _STOPPABLE:
                cluster = await ClusterRepository(session, TenantScope.all_projects()).get(
                    row.cluster_id, for_update=True
                )
                await _stop(session, cluster, row.action)
        self.wake()

    async def list_events(self, ctx: RequestContext, query: Query) -> list[View]:
        async with self.sessions() as session:
            repo = EventRepository(session, scope_of(ctx, query.global_project))
            rows = await repo.list(query.filters, limit=query.limit, marker=query.marker,
                                   sort=query.sort or (("timestamp", "asc"),))  # fmt: skip
        return [event_view(r) for r in rows]

    async def get_event(self, ctx: RequestContext, ident: str) -> View:
        async with self.sessions() as session:
            return event_view(await EventRepository(session, scope_of(ctx)).get(ident))

    async def bindings(self, ctx: RequestContext, ident: str) -> list[View]:
        async with self.sessions() as session:
            cluster = await ClusterRepository(session, scope_of(ctx)).get(ident)
            pairs = await BindingRepository(session).of_cluster(cluster.id)
        return [binding_view(b, cluster, p) for b, p in pairs]

    async def binding(self, ctx: RequestContext, ident: str, policy: str) -> View:
        for view in await self.bindings(ctx, ident):
            if policy in (view["policy_id"], view["policy_name"]) or view["policy_id"].startswith(
                policy
            ):
                return view
        raise ClusterObjectNotFound(kind="policy binding", ident=policy)
