"""One step of a cluster's controller: observe the members, heal, roll, fit the capacity,
then say how the cluster and its open actions stand.

Each step starts from what the database holds, so a step cut short (a replica killed) is
simply taken up by the next one, on whichever replica holds the lease then: a node row is
written before its container is asked for, and its container's name is its idempotency key.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from dockyard.db.clusters_tables import ClusterNodeRow
from dockyard.db.engine import Sessions
from dockyard.domain.clusters import NodeStatus, victims
from dockyard.domain.tenancy import Authorizer, RequestContext
from dockyard.errors import DockyardError
from dockyard.schemas.clusters_specs import DeletionPolicy
from dockyard.services.clusters_members import (
    Members,
    Placement,
    controller_context,
    describe,
    member_labels,
)
from dockyard.services.clusters_nodes import NodeWriter
from dockyard.services.clusters_placement import PlacementRules, place
from dockyard.services.clusters_poll import Poller
from dockyard.services.clusters_recovery import Recovery
from dockyard.services.clusters_settle import Settler
from dockyard.services.clusters_world import World, node_status, read_world

log = logging.getLogger(__name__)


@dataclass
class Controller:
    sessions: Sessions
    members: Members
    rules: Authorizer
    poller: Poller | None = None

    def __post_init__(self) -> None:
        self.nodes = NodeWriter(self.sessions)
        self.settler = Settler(self.sessions, self.members, self.nodes)
        self.recovery = Recovery(
            self.members, self.nodes, self.poller, self.create_member, self.make_container
        )

    async def step(self, cluster_id: str) -> None:
        """Bring the cluster one step closer to its desired state."""
        async with self.sessions() as session:
            world = await read_world(session, cluster_id)
        if world is None:
            return
        ctx = controller_context(world.cluster.project_id, world.cluster.user_id, self.rules)
        await self.observe(ctx, world)
        if world.cluster.status == "DELETING":
            await self.settler.delete_cluster(ctx, world)
            return
        await self.recovery.heal(ctx, world)
        await self.recovery.roll(ctx, world)
        await self.fit(ctx, world)
        await self.settler.settle(world)

    async def observe(self, ctx: RequestContext, world: World) -> None:
        """Each member's container, and the node status it implies (a member on a host whose
        heartbeat stopped is in ERROR: a health policy recovers it on another host)."""
        down = await self.members.containers.hosts_down()
        world.hosts_down = set(down)
        for node in list(world.nodes):
            container = None
            if node.physical_id:
                container = await self.members.find(ctx, node.physical_id)
            elif node.data.get("container_name"):  # made, and the step ended before linking
                container = await self.members.find(ctx, node.data["container_name"])
                if container is None and node.status != NodeStatus.DELETING.value:
                    await self.make_container(ctx, world, node)
                    continue
                if container is not None:
                    await self.nodes.update(node, physical_id=container.uuid)
            world.containers[node.id] = container
            if node.status == NodeStatus.DELETING.value:
                await self.retire(ctx, node)
                if container is None:
                    await self.nodes.remove(node)
                    world.nodes.remove(node)
                elif container.status != "Deleting" and _grace_over(node):
                    await self.members.delete(ctx, container.uuid)  # asked for by a request
                continue
            status, reason = node_status(container, node.status)
            if container is not None and container.host_uuid in down:
                status, reason = NodeStatus.ERROR.value, "The member's host is down."
            if (status, reason) != (node.status, node.status_reason):
                await self.nodes.update(node, status=status, status_reason=reason)
            if status == NodeStatus.ACTIVE.value:
                await self.retire(ctx, node)
        hosts = {c.host_uuid for c in world.containers.values() if c and c.host_uuid}
        world.hostnames = await self.members.containers.host_names(hosts)

    async def retire(self, ctx: RequestContext, node: ClusterNodeRow) -> None:
        """Delete the container a recovery replaced (kept until its successor ran)."""
        old = node.data.get("retiring")
        if old:
            await self.members.delete(ctx, str(old))
            await self.nodes.update(node, data={k: v for k, v in node.data.items()
                                                if k != "retiring"})  # fmt: skip

    async def fit(self, ctx: RequestContext, world: World) -> None:
        """Create or remove members until the live ones are the desired capacity."""
        live = world.live()
        desired = world.cluster.desired_capacity
        if len(live) < desired:
            for _ in range(desired - len(live)):
                await self.create_member(ctx, world)
        elif len(live) > desired:
            busy = any(n.status == NodeStatus.CREATING.value for n in live)
            if world.outdated() and busy:  # a rolling update's new member is on its way
                return
            await self.remove_members(ctx, world, len(live) - desired)

    async def create_member(self, ctx: RequestContext, world: World) -> ClusterNodeRow:
        rules = PlacementRules.of(world.profile, world.policies)
        hosts = await self.members.hosts() if rules.chooses_hosts else []
        where = place(rules, hosts, [world.member(n) for n in world.live()])
        data: dict[str, Any] = {"zone": where.zone, "host": where.host, "hints": where.hints}
        node = await self.nodes.add(world.cluster, world.cluster.profile_id, data)
        world.nodes.append(node)
        world.containers[node.id] = None
        await self.make_container(ctx, world, node)
        return node

    async def make_container(self, ctx: RequestContext, world: World, node: ClusterNodeRow) -> None:
        """Ask for the node's container (named node.data['container_name']) and link it."""
        data = node.data
        hints = tuple((k, v) for k, v in data.get("hints", []))
        placement = Placement(host=data.get("host"), zone=data.get("zone"), hints=hints)
        try:
            labels = member_labels(world.cluster.id, node)
            uuid = await self.members.make(ctx, world.profile, data["container_name"], labels,
                                           placement)  # fmt: skip
        except DockyardError as exc:
            await self.nodes.update(
                node, status=NodeStatus.ERROR.value, status_reason=describe(exc)
            )
            return
        await self.nodes.update(node, physical_id=uuid, status_reason="Container accepted.")

    async def remove_members(self, ctx: RequestContext, world: World, count: int) -> None:
        """Scale in by count: outdated members first, then the deletion policy's choice."""
        policy = world.policies.get("senlin.policy.deletion")
        criteria = policy.criteria if isinstance(policy, DeletionPolicy) else "RANDOM"
        outdated = [n.id for n in world.outdated()]
        rest = [world.member(n) for n in world.live() if n.id not in outdated]
        chosen = (outdated + victims(rest, count, criteria))[:count]
        destroy, grace = True, 0
        if isinstance(policy, DeletionPolicy):
            destroy, grace = policy.destroy_after_deletion, policy.grace_period
        for node in [n for n in world.nodes if n.id in chosen]:
            await self.delete_member(ctx, world, node, destroy=destroy, grace=grace)

    async def delete_member(
        self, ctx: RequestContext, world: World, node: ClusterNodeRow, *, destroy: bool = True,
        grace: int = 0,
    ) -> None:  # fmt: skip
        """Remove the member: its container goes too (after the deletion policy's grace
        period, while it keeps serving), unless it is to stay as an orphan node."""
        if not destroy:
            await self.nodes.update(node, cluster_id=None, index=-1)
            world.nodes.remove(node)
            return
        await self.nodes.update(
            node, status=NodeStatus.DELETING.value, status_reason="Deleting the member.",
            data={**node.data, "delete_at": time.time() + grace},
        )  # fmt: skip
        if node.physical_id and not grace:
            try:
                await self.members.delete(ctx, node.physical_id)
            except DockyardError as exc:
                log.warning("member %s of cluster %s: %s", node.id, world.cluster.id, exc.text)


def _grace_over(node: ClusterNodeRow) -> bool:
    """A member being deleted keeps its container until its grace period has passed."""
    return time.time() >= float(node.data.get("delete_at", 0))
