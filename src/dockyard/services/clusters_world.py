"""What one controller step sees of a cluster, read at once, and the node statuses it implies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from dockyard.db.clusters_tables import (
    ClusterNodeRow,
    ClusterProfileRow,
    ClusterRow,
)
from dockyard.db.engine import Session
from dockyard.db.repositories.clusters import (
    ActionRepository,
    BindingRepository,
    ClusterRepository,
    NodeRepository,
    ProfileRepository,
)
from dockyard.db.tables import ContainerRow
from dockyard.domain.clusters import Member, NodeStatus
from dockyard.domain.containers import Status
from dockyard.domain.tenancy import TenantScope
from dockyard.schemas.clusters_specs import POLICY_TYPES


def base_type(policy_type: str) -> str:
    """'senlin.policy.health-1.1' → 'senlin.policy.health'."""
    return policy_type.rsplit("-", 1)[0]


@dataclass(frozen=True)
class CapsuleUnit:
    """A member that is a capsule, as the controller looks at it (what it reads of a
    ContainerRow): its status, host and addresses (its sandbox's)."""

    uuid: str
    status: str
    status_reason: str | None
    host_uuid: str | None
    addresses: dict[str, Any] | None
    engine_id: str | None = None  # its sandbox's: the network namespace its containers share


Unit = ContainerRow | CapsuleUnit  # what a member is made of


@dataclass
class World:
    cluster: ClusterRow
    profile: ClusterProfileRow
    nodes: list[ClusterNodeRow]
    profiles_created: dict[str, datetime]  # profile id → created_at (OLDEST_PROFILE_FIRST)
    policies: dict[str, BaseModel] = field(default_factory=dict)  # enabled, by base type
    containers: dict[str, Unit | None] = field(default_factory=dict)  # by node id
    hostnames: dict[str, str] = field(default_factory=dict)  # host uuid → name
    open_actions: list[str] = field(default_factory=list)  # kinds of the unended actions
    hosts_down: set[str] = field(default_factory=set)  # uuids of hosts whose heartbeat stopped

    def live(self) -> list[ClusterNodeRow]:
        return [n for n in self.nodes if n.status != NodeStatus.DELETING.value]

    def outdated(self) -> list[ClusterNodeRow]:
        return [n for n in self.live() if n.profile_id != self.cluster.profile_id]

    def member(self, node: ClusterNodeRow) -> Member:
        container = self.containers.get(node.id)
        host = None
        if container is not None and container.host_uuid:
            host = self.hostnames.get(container.host_uuid, container.host_uuid)
        return Member(
            id=node.id,
            created_at=node.created_at,
            profile_created_at=self.profiles_created.get(node.profile_id, node.created_at),
            host=host or node.data.get("host"),
            zone=node.data.get("zone"),
            healthy=node.status not in (NodeStatus.ERROR.value, NodeStatus.WARNING.value),
        )


async def read_world(session: Session, cluster_id: str) -> World | None:
    """The cluster with its profile, enabled policies and nodes (any project: the controller)."""
    scope = TenantScope.all_projects()
    cluster = await ClusterRepository(session, scope).find(cluster_id)
    if cluster is None:
        return None
    profiles = ProfileRepository(session, scope)
    profile = await profiles.get(cluster.profile_id)
    nodes = list(await NodeRepository(session, scope).members(cluster.id))
    created = {profile.id: profile.created_at}
    for profile_id in {n.profile_id for n in nodes} - set(created):
        created[profile_id] = (await profiles.get(profile_id)).created_at
    world = World(cluster, profile, nodes, created)
    actions = await ActionRepository(session, scope).open_for(cluster.id)
    world.open_actions = [a.action for a in actions]
    for binding, policy in await BindingRepository(session).of_cluster(cluster.id):
        model = POLICY_TYPES.get(policy.type)
        if binding.enabled and model is not None:
            world.policies[base_type(policy.type)] = model.model_validate(
                policy.spec.get("properties", {})
            )
    return world


def node_status(container: Unit | None, current: str) -> tuple[str, str | None]:
    """A member's status and reason from its container (None: the container is gone)."""
    if container is None:
        return NodeStatus.ERROR.value, "The member's container is gone."
    status = Status(container.status)
    if status is Status.RUNNING:
        return NodeStatus.ACTIVE.value, "Container is running."
    if status is Status.CREATED and container.status_reason:  # the engine would not start it
        return NodeStatus.ERROR.value, f"Container could not start: {container.status_reason}"
    if status in (Status.CREATING, Status.CREATED, Status.RESTARTING, Status.REBUILDING):
        keep = current if current in (NodeStatus.RECOVERING.value,) else NodeStatus.CREATING.value
        return keep, f"Container is {status.value}."
    if status is Status.DELETING:
        return NodeStatus.DELETING.value, "Container is being deleted."
    if status is Status.PAUSED:
        return NodeStatus.WARNING.value, "Container is paused."
    reason = container.status_reason or f"Container is {status.value}."
    return NodeStatus.ERROR.value, f"Container is {status.value}: {reason}"


def settled_counts(world: World) -> dict[str, Any]:
    """How far the cluster is from its desired state, for statuses and actions."""
    live = world.live()
    busy_states = {NodeStatus.CREATING.value, NodeStatus.RECOVERING.value, NodeStatus.INIT.value}
    return {
        "live": len(live),
        "busy": sum(1 for n in live if n.status in busy_states),
        "deleting": len(world.nodes) - len(live),
        "errors": [n for n in live if n.status == NodeStatus.ERROR.value],
        "outdated": len(world.outdated()),
    }
