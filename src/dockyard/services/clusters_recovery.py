"""Health (detect a failed member, recover it) and rolling updates (replace members of an old
profile batch by batch, never below min_in_service), as steps of the cluster controller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dockyard.db.clusters_tables import ClusterNodeRow
from dockyard.db.engine import transaction
from dockyard.db.repositories.clusters import ClusterRepository
from dockyard.domain.clusters import ActionStatus, NodeStatus
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import DockyardError, Invalid
from dockyard.schemas.clusters_specs import BatchPolicy, HealthPolicy
from dockyard.services.clusters_members import Members
from dockyard.services.clusters_nodes import EVENT_WARNING, NodeWriter, new_action, record_event
from dockyard.services.clusters_poll import Poller, PollVerdict, poll_target
from dockyard.services.clusters_world import Unit, World

# While one of these runs, the health policy recovers nothing on its own (Senlin's pre_op:
# members that a shrink or an update is taking away are not to be brought back).
SUSPENDS_HEALTH = frozenset(
    {"CLUSTER_SCALE_IN", "CLUSTER_DEL_NODES", "NODE_DELETE", "CLUSTER_UPDATE",
     "CLUSTER_RECOVER", "CLUSTER_REPLACE_NODES"}
)  # fmt: skip
POLLS_AT_ONCE = 32  # a cluster's polls in flight together (each holds an agent connection)
Poll = tuple[str, PollVerdict] | None  # the URL polled and its verdict; None: nobody asked
Polled = dict[tuple[str, int], Poll]  # by node id and poll mode
CreateMember = Callable[[RequestContext, World], Awaitable[ClusterNodeRow]]
MakeContainer = Callable[[RequestContext, World, ClusterNodeRow], Awaitable[None]]


@dataclass
class Recovery:
    members: Members
    nodes: NodeWriter
    poller: Poller | None
    create_member: CreateMember
    make_container: MakeContainer

    # --- health ------------------------------------------------------------------------------

    async def heal(self, ctx: RequestContext, world: World) -> None:
        """Recover members a request asked to recover; with a health policy, each failed
        member too, at most once per detection interval."""
        health = world.policies.get("senlin.policy.health")
        if SUSPENDS_HEALTH.intersection(world.open_actions):
            health = None
        now = time.time()
        polled = (
            await self._poll_due(world, health, now) if isinstance(health, HealthPolicy) else {}
        )
        for node in world.live():
            requested = node.data.get("recover_requested")
            if requested:
                await self._recover(ctx, world, node, str(requested), "Recovery requested.")
                continue
            if not isinstance(health, HealthPolicy):
                continue
            if now - float(node.data.get("recovered_at", 0)) < health.detection.interval:
                continue
            reason = await self._failure(node, health, now, polled)
            if reason is not None:
                operation = health.recovery.actions[0].name
                await self._recover(ctx, world, node, operation, reason)

    async def _poll_due(self, world: World, health: HealthPolicy, now: float) -> Polled:
        """Every poll due now, made at once (a member that hangs costs the step one timeout,
        not one per member: a step must end well within the cluster's lease)."""
        modes = [m for m in health.detection.detection_modes if m.type == "NODE_STATUS_POLL_URL"]
        due = [(node, index, mode) for node in world.live() if self._due(world, node, health, now)
               for index, mode in enumerate(modes)]  # fmt: skip
        limit = asyncio.Semaphore(POLLS_AT_ONCE)

        async def one(node: ClusterNodeRow, options: dict[str, Any]) -> Poll:
            unit = world.containers.get(node.id)
            if unit is None:
                return None
            async with limit:
                return await self._poll(unit, node, options)

        results = await asyncio.gather(*(one(node, mode.options) for node, _, mode in due))
        return {
            (node.id, index): result for (node, index, _), result in zip(due, results, strict=True)
        }

    def _due(self, world: World, node: ClusterNodeRow, health: HealthPolicy, now: float) -> bool:
        """Whether the member's URL is to be polled now: it runs, it has had
        node_update_timeout (Senlin's: a member just made, recovered or replaced gets that
        long to start serving) and the detection interval has passed since its last poll."""
        if node.status != NodeStatus.ACTIVE.value or world.containers.get(node.id) is None:
            return False
        if self.poller is None or node.data.get("recover_requested"):
            return False
        made = max(node.created_at.timestamp(), float(node.data.get("recovered_at", 0)),
                   float(node.data.get("recreated_at", 0)))  # fmt: skip
        if now - made < health.detection.node_update_timeout:
            return False
        return now - float(node.data.get("polled_at", 0)) >= health.detection.interval

    async def _failure(
        self, node: ClusterNodeRow, health: HealthPolicy, now: float, polled: Polled
    ) -> str | None:
        """Why the member needs recovering, or None while it is healthy (or starting)."""
        if node.status == NodeStatus.ERROR.value:
            return node.status_reason or "The member failed."
        modes = [m for m in health.detection.detection_modes if m.type == "NODE_STATUS_POLL_URL"]
        for index, mode in enumerate(modes):
            result = polled.get((node.id, index))
            if result is None:  # not due, or the host was not asked (its heartbeat speaks)
                return None
            url, verdict = result
            healthy = verdict.healthy or (
                not verdict.connected
                and mode.options.get("poll_url_conn_error_as_unhealthy", True) is False
            )
            failures = 0 if healthy else int(node.data.get("poll_failures", 0)) + 1
            await self.nodes.update(
                node, data={**node.data, "polled_at": now, "poll_failures": failures}
            )
            if failures >= int(mode.options.get("poll_url_retry_limit", 3)):
                return f"Polling {url} failed {failures} times: {verdict.reason}"
        return None

    async def _poll(self, unit: Unit, node: ClusterNodeRow, options: dict[str, Any]) -> Poll:
        """The member's host polls it (the control plane reaches no tenant network)."""
        template = str(options["poll_url"])
        try:
            target = poll_target(template, node.name, unit.addresses)
        except Invalid as exc:
            return template, PollVerdict(False, False, exc.text)
        if self.poller is None:
            return None
        expected = str(options.get("poll_url_healthy_response", ""))
        verdict = await self.poller(unit, target, expected)
        return None if verdict is None else (target.url, verdict)

    async def _recover(
        self, ctx: RequestContext, world: World, node: ClusterNodeRow, operation: str,
        reason: str,
    ) -> None:  # fmt: skip
        active = sum(1 for n in world.live() if n.status == NodeStatus.ACTIVE.value)
        in_service = node.status == NodeStatus.ACTIVE.value
        keep_old = in_service and active - 1 < world.cluster.min_size
        data = {**node.data, "recovered_at": time.time(), "poll_failures": 0}
        data.pop("recover_requested", None)
        await self.nodes.update(
            node, status=NodeStatus.RECOVERING.value, status_reason=f"{operation}: {reason}",
            data=data,
        )  # fmt: skip
        if await self._in_place(ctx, world, node, operation):
            await self._record(node, operation, reason)
            return
        await self.recreate(ctx, world, node, keep_old=keep_old)
        await self._record(node, operation, reason)

    async def _in_place(
        self, ctx: RequestContext, world: World, node: ClusterNodeRow, operation: str
    ) -> bool:
        """REBOOT restarts the member's container, REBUILD remakes its engine container (same
        uuid and name); False when that cannot be done (no container, its host down, a
        refused transition), and the member is then recreated instead."""
        container = world.containers.get(node.id)
        if operation not in ("REBOOT", "REBUILD") or container is None or not node.physical_id:
            return False
        if container.host_uuid is None or container.host_uuid in world.hosts_down:
            return False
        try:
            if operation == "REBOOT":
                await self.members.reboot(ctx, node.physical_id)
            else:
                await self.members.rebuild(ctx, node.physical_id)
        except DockyardError:
            return False
        return True

    async def recreate(
        self, ctx: RequestContext, world: World, node: ClusterNodeRow, *, keep_old: bool = False
    ) -> None:
        """A new container for the node, of the cluster's profile. The old one goes now, or,
        with keep_old, once the new one runs (the controller retires it then)."""
        incarnation = int(node.data.get("incarnation", 0)) + 1
        old = node.physical_id
        data = {**node.data, "incarnation": incarnation, "recreated_at": time.time(),
                "container_name": f"{node.name}-r{incarnation}"}  # fmt: skip
        if old and keep_old:
            data["retiring"] = old
        await self.nodes.update(
            node, physical_id=None, data=data, profile_id=world.cluster.profile_id
        )
        if old and not keep_old:
            await self.members.delete(ctx, old)
        await self.make_container(ctx, world, node)

    async def _record(self, node: ClusterNodeRow, operation: str, reason: str) -> None:
        action = new_action(
            node, "NODE_RECOVER", user_id=node.user_id, cause="Health Policy",
            inputs={"operation": operation, "reason": reason},
            status=ActionStatus.SUCCEEDED,
        )  # fmt: skip
        await self.nodes.action(action, node)

    # --- rolling update ----------------------------------------------------------------------

    async def roll(self, ctx: RequestContext, world: World) -> None:
        """Replace the next batch of members of an old profile, when the last batch is done."""
        outdated = world.outdated()
        update: dict[str, Any] = dict(world.cluster.data.get("update") or {})
        if not outdated or update.get("failed") or update.get("cancelled"):
            return
        failed = [
            n for n in world.live()
            if n.profile_id == world.cluster.profile_id and n.status == NodeStatus.ERROR.value
        ]  # fmt: skip
        if failed:
            why = f"Member {failed[0].name} failed: {failed[0].status_reason}"
            await self._save(world, {**update, "failed": f"Rolling update stopped. {why}"})
            return
        busy = {NodeStatus.CREATING.value, NodeStatus.RECOVERING.value}
        if any(n.status in busy for n in world.live()) or len(world.live()) < len(world.nodes):
            return
        batch = world.policies.get("senlin.policy.batch")
        if update.get("in_flight"):
            pause = batch.pause_time if isinstance(batch, BatchPolicy) else 0
            update = {**update, "in_flight": False, "next_batch_at": time.time() + pause}
            await self._save(world, update)
        if time.time() < float(update.get("next_batch_at", 0)):
            return
        await self._next_batch(ctx, world, outdated, batch)
        await self._save(world, {**update, "in_flight": True})

    async def _next_batch(
        self, ctx: RequestContext, world: World, outdated: list[ClusterNodeRow], batch: Any
    ) -> None:
        min_in_service = batch.min_in_service if isinstance(batch, BatchPolicy) else 0
        largest = batch.max_batch_size if isinstance(batch, BatchPolicy) else -1
        active = sum(1 for n in world.live() if n.status == NodeStatus.ACTIVE.value)
        size = min(len(outdated), active - min_in_service)
        if largest > 0:
            size = min(size, largest)
        if size < 1:  # no member may go: bring a new one first (the capacity step trims)
            await self.create_member(ctx, world)
            return
        for node in sorted(outdated, key=lambda n: n.created_at)[:size]:
            await self.nodes.update(node, status=NodeStatus.CREATING.value,
                                    status_reason="Replaced by a rolling update.")  # fmt: skip
            await self.recreate(ctx, world, node)

    async def _save(self, world: World, update: dict[str, Any]) -> None:
        async with transaction(self.nodes.sessions) as session:
            repo = ClusterRepository(session, TenantScope.all_projects())
            cluster = await repo.get(world.cluster.id, for_update=True)
            first_failure = not (cluster.data.get("update") or {}).get("failed")
            cluster.data = {**cluster.data, "update": update}
            world.cluster.data = cluster.data
            if update.get("failed") and first_failure:
                record_event(session, cluster, "CLUSTER_UPDATE", "FAILED", update["failed"],
                             EVENT_WARNING)  # fmt: skip
