"""The verbs of POST /v1/clusters/{id}/actions: each changes the cluster's desired state in
one transaction and records an action, which the controller ends once the cluster is there."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.db.clusters_tables import ClusterBindingRow, ClusterNodeRow, ClusterRow
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.clusters import (
    BindingRepository,
    ClusterRepository,
    NodeRepository,
    PolicyRepository,
)
from dockyard.domain.clusters import (
    ActionStatus,
    AdjustmentType,
    Bounds,
    ClusterStatus,
    NodeStatus,
    SizeError,
    adjusted,
)
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import Conflict, InvalidValue
from dockyard.schemas.clusters import (
    CLUSTER_ACTIONS,
    as_bool,
    as_int,
    cluster_action,
    optional_int,
)
from dockyard.schemas.clusters_specs import (
    POLICY_PRIORITY,
    SINGLETON,
    DeletionPolicy,
    ScalingPolicy,
)
from dockyard.services.clusters import scope_of, specified
from dockyard.services.clusters_nodes import new_action, record_event
from dockyard.services.clusters_world import base_type

# Verbs whose action is done when it is recorded (the others wait for the members).
_AT_ONCE = {"policy_attach", "policy_detach", "policy_update"}


@dataclass
class ClusterActions:
    sessions: Sessions
    wake: Callable[[], None] = field(default=lambda: None)

    async def run(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> str:
        """Apply one verb to the cluster ident; the id of the action that records it."""
        cluster_action(body)  # a malformed body is a 400 before the cluster is looked up
        async with transaction(self.sessions) as session:
            cluster = await ClusterRepository(session, scope_of(ctx)).get(ident, for_update=True)
            action_id = await self.run_in(session, ctx, cluster, body)
        self.wake()
        return action_id

    async def run_in(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, body: dict[str, Any]
    ) -> str:
        """run(), in the caller's transaction, on a cluster it has locked."""
        verb, params = cluster_action(body)
        handler = getattr(self, f"_{verb}", None)
        if handler is None:
            raise InvalidValue(f"The action '{verb}' is not supported by this service.")
        if cluster.status == ClusterStatus.DELETING.value:
            raise Conflict(f"The cluster '{cluster.name}' is being deleted.")
        inputs = await handler(session, ctx, cluster, params)
        status = ActionStatus.SUCCEEDED if verb in _AT_ONCE else ActionStatus.READY
        action = new_action(cluster, CLUSTER_ACTIONS[verb], user_id=ctx.user_id,
                            inputs=inputs, status=status)  # fmt: skip
        session.add(action)
        record_event(session, cluster, CLUSTER_ACTIONS[verb], "ACCEPTED", str(inputs))
        await session.flush()
        return action.id

    async def grow(self, session: Session, cluster: ClusterRow, count: int) -> None:
        """Add count to the desired capacity, within max_size (else 400)."""
        desired = cluster.desired_capacity + count
        cluster.desired_capacity = _fit(Bounds(cluster.min_size, cluster.max_size), desired, True)

    # --- sizes -------------------------------------------------------------------------------

    async def _resize(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        strict = as_bool(p.get("strict", False) or False, "strict")
        min_size = optional_int(p, "min_size", minimum=0)
        max_size = optional_int(p, "max_size", minimum=-1)
        bounds = Bounds(
            cluster.min_size if min_size is None else min_size,
            cluster.max_size if max_size is None else max_size,
        )
        desired = cluster.desired_capacity
        kind = p.get("adjustment_type")
        if kind is not None:
            if kind not in AdjustmentType.__members__:
                raise InvalidValue(f"Invalid adjustment_type '{kind}'.")
            if p.get("number") is None:
                raise InvalidValue("Missing number value for size adjustment.")
            number = _number(p["number"])
            min_step = optional_int(p, "min_step", minimum=0) or 1
            desired = adjusted(desired, AdjustmentType(kind), number, min_step)
        desired = _fit(bounds, desired, strict)
        cluster.min_size, cluster.max_size, cluster.desired_capacity = (
            bounds.min_size, bounds.max_size, desired,
        )  # fmt: skip
        return {**{k: v for k, v in p.items() if v is not None}, "desired_capacity": desired}

    async def _scale_out(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._scale(session, cluster, p, "CLUSTER_SCALE_OUT", +1)

    async def _scale_in(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        return await self._scale(session, cluster, p, "CLUSTER_SCALE_IN", -1)

    async def _scale(
        self, session: Session, cluster: ClusterRow, p: dict[str, Any], event: str, sign: int
    ) -> dict[str, Any]:
        """By `count`, else by the attached scaling policy for the event, else by one."""
        scaling = await _scaling_policy(session, cluster, event)
        best_effort = False
        if p.get("count") is not None:
            desired = cluster.desired_capacity + sign * as_int(p["count"], "count", minimum=1)
        elif scaling is not None:
            adj = scaling.adjustment
            _cooldown(cluster, event, adj.cooldown)
            number = adj.number if adj.type == "EXACT_CAPACITY" else sign * adj.number
            desired = adjusted(cluster.desired_capacity, AdjustmentType(adj.type), number,
                               adj.min_step)  # fmt: skip
            best_effort = adj.best_effort
        else:
            desired = cluster.desired_capacity + sign
        bounds = Bounds(cluster.min_size, cluster.max_size)
        cluster.desired_capacity = _fit(bounds, desired, strict=not best_effort)
        return {"count": p.get("count"), "desired_capacity": cluster.desired_capacity}

    # --- members -----------------------------------------------------------------------------

    async def _add_nodes(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        nodes = await _nodes(session, ctx, p)
        for node in nodes:
            _join(cluster, node)
        desired = cluster.desired_capacity + len(nodes)
        cluster.desired_capacity = _fit(Bounds(cluster.min_size, cluster.max_size), desired, True)
        return {"nodes": [n.id for n in nodes]}

    async def _del_nodes(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        """Senlin's del_nodes: an attached deletion policy decides whether the containers go,
        after how long (grace_period), and whether the desired capacity shrinks with them."""
        nodes = await _nodes(session, ctx, p)
        policy = await _deletion_policy(session, cluster)
        destroy = as_bool(p.get("destroy_after_deletion", False) or False, "destroy")
        grace, reduce = 0, True
        if policy is not None:
            destroy, grace = policy.destroy_after_deletion, policy.grace_period
            reduce = policy.reduce_desired_capacity
        for node in nodes:
            if node.cluster_id != cluster.id:
                raise InvalidValue(f"Node '{node.name}' is not a member of the cluster.")
        desired = cluster.desired_capacity - len(nodes)
        desired = _fit(Bounds(cluster.min_size, cluster.max_size), desired, True)
        if reduce:
            cluster.desired_capacity = desired
        for node in nodes:
            if destroy:
                node.status, node.status_reason = NodeStatus.DELETING.value, "Deleted from cluster."
                node.data = {**node.data, "delete_at": time.time() + grace}
            else:
                node.cluster_id, node.index = None, -1
        return {"nodes": [n.id for n in nodes], "destroy_after_deletion": destroy,
                "grace_period": grace, "reduce_desired_capacity": reduce}  # fmt: skip

    async def _replace_nodes(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        """Each old member leaves (its container deleted), the node named for it joins."""
        pairs = p.get("nodes")
        if not isinstance(pairs, dict) or not pairs:
            raise InvalidValue("The 'nodes' must be a non-empty map of old node to new node.")
        repo = NodeRepository(session, scope_of(ctx))
        replaced: dict[str, str] = {}
        for old_ident, new_ident in pairs.items():
            old = await repo.get(str(old_ident), for_update=True)
            new = await repo.get(str(new_ident), for_update=True)
            if old.cluster_id != cluster.id or old.status == NodeStatus.DELETING.value:
                raise InvalidValue(f"Node '{old.name}' is not a member of the cluster.")
            _join(cluster, new)
            old.status, old.status_reason = NodeStatus.DELETING.value, f"Replaced by {new.name}."
            replaced[old.id] = new.id
        return {"nodes": replaced}

    async def _check(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        return dict(p)

    async def _recover(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        """Mark the members in ERROR for recovery (RECREATE unless the operation says)."""
        operation = str(p.get("operation") or "RECREATE").upper()
        if operation not in ("RECREATE", "REBUILD", "REBOOT"):
            raise InvalidValue(f"Operation '{operation}' is not supported for recovery.")
        for node in await NodeRepository(session, scope_of(ctx)).members(cluster.id):
            if node.status == NodeStatus.ERROR.value:
                node.data = {**node.data, "recover_requested": operation, "recovered_at": 0}
        return {"operation": operation}

    # --- policies ----------------------------------------------------------------------------

    async def _policy_attach(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        policy = await specified(PolicyRepository(session, scope_of(ctx)), _policy_id(p))
        bindings = BindingRepository(session)
        kind = base_type(policy.type)
        for _binding, attached in await bindings.of_cluster(cluster.id):
            if attached.id == policy.id:
                raise Conflict(f"The policy '{policy.name}' is already attached to the cluster.")
            if kind in SINGLETON and base_type(attached.type) == kind:
                raise Conflict(f"A policy of type '{kind}' is already attached to the cluster.")
        enabled = as_bool(p.get("enabled", True), "enabled")
        bindings.add(ClusterBindingRow(cluster_id=cluster.id, policy_id=policy.id,
                                       enabled=enabled, priority=POLICY_PRIORITY.get(kind, 50),
                                       data={}))  # fmt: skip
        return {"policy_id": policy.id, "enabled": enabled}

    async def _policy_detach(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        binding = await self._binding(session, ctx, cluster, p)
        await BindingRepository(session).remove(binding)
        return {"policy_id": binding.policy_id}

    async def _policy_update(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> dict[str, Any]:
        binding = await self._binding(session, ctx, cluster, p)
        if p.get("enabled") is not None:
            binding.enabled = as_bool(p["enabled"], "enabled")
        return {"policy_id": binding.policy_id, "enabled": binding.enabled}

    async def _binding(
        self, session: Session, ctx: RequestContext, cluster: ClusterRow, p: dict[str, Any]
    ) -> ClusterBindingRow:
        policy = await specified(PolicyRepository(session, scope_of(ctx)), _policy_id(p))
        binding = await BindingRepository(session).find(cluster.id, policy.id)
        if binding is None:
            raise InvalidValue(f"The policy '{policy.name}' is not attached to the cluster.")
        return binding


def _join(cluster: ClusterRow, node: ClusterNodeRow) -> None:
    """A node in no cluster becomes the cluster's next member (it must be of its profile:
    members of another profile would be replaced by the next rolling step)."""
    if node.cluster_id:
        raise InvalidValue(f"Node '{node.name}' is already in a cluster.")
    if node.profile_id != cluster.profile_id:
        raise InvalidValue(f"Node '{node.name}' is not of the cluster's profile.")
    if node.status in (NodeStatus.DELETING.value, NodeStatus.ERROR.value):
        raise InvalidValue(f"Node '{node.name}' is {node.status}.")
    node.cluster_id, node.index = cluster.id, cluster.next_index
    cluster.next_index += 1


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise InvalidValue(f"The value ({value}) for 'number' is not a valid number.")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidValue(f"The value ({value}) for 'number' is not a valid number.") from None


def _fit(bounds: Bounds, desired: int, strict: bool) -> int:
    try:
        bounds.check()
        return bounds.fit(desired, strict)
    except SizeError as exc:
        raise InvalidValue(str(exc)) from None


def _policy_id(p: dict[str, Any]) -> str:
    if not p.get("policy_id"):
        raise InvalidValue("The 'policy_id' is required.")
    return str(p["policy_id"])


async def _nodes(session: Session, ctx: RequestContext, p: dict[str, Any]) -> list[ClusterNodeRow]:
    idents = p.get("nodes")
    if not isinstance(idents, list) or not idents:
        raise InvalidValue("The 'nodes' must be a non-empty list of node identities.")
    repo = NodeRepository(session, scope_of(ctx))
    return [await repo.get(str(ident), for_update=True) for ident in idents]


async def _deletion_policy(session: Session, cluster: ClusterRow) -> DeletionPolicy | None:
    for binding, policy in await BindingRepository(session).of_cluster(cluster.id):
        if binding.enabled and base_type(policy.type) == "senlin.policy.deletion":
            return DeletionPolicy.model_validate(policy.spec.get("properties", {}))
    return None


async def _scaling_policy(
    session: Session, cluster: ClusterRow, event: str
) -> ScalingPolicy | None:
    for binding, policy in await BindingRepository(session).of_cluster(cluster.id):
        spec = policy.spec.get("properties", {})
        if binding.enabled and base_type(policy.type) == "senlin.policy.scaling":
            parsed = ScalingPolicy.model_validate(spec)
            if parsed.event == event:
                return parsed
    return None


def _cooldown(cluster: ClusterRow, event: str, seconds: int) -> None:
    """Refuse a policy-driven scaling within the policy's cooldown of the last one."""
    now = time.time()
    last = float((cluster.data.get("scaled_at") or {}).get(event, 0))
    if seconds and now - last < seconds:
        raise Conflict(f"The cluster is in cooldown for {event} ({seconds} s).")
    cluster.data = {**cluster.data, "scaled_at": {**cluster.data.get("scaled_at", {}), event: now}}
