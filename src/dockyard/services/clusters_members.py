"""A cluster's members are ordinary containers of its project, made and removed through the
container service (quota, scheduling and the agents work for them as for any container)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from dockyard.db.clusters_tables import ClusterNodeRow, ClusterProfileRow
from dockyard.db.engine import Sessions
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.tables import ContainerRow, HostRow, utcnow
from dockyard.domain.clusters import Candidate
from dockyard.domain.containers import Status
from dockyard.domain.tenancy import Authorizer, RequestContext
from dockyard.errors import CapsuleNotFound, ContainerNotFound, DockyardError, InvalidValue
from dockyard.schemas.capsules import CapsuleSpec, parse_template
from dockyard.schemas.clusters_specs import CAPSULE_TEMPLATE_VERSION, DockerProfile, DockyardProfile
from dockyard.schemas.containers import ContainerCreate
from dockyard.services.capsules import CapsuleService
from dockyard.services.clusters_world import CapsuleUnit, Unit
from dockyard.services.containers import ContainerService
from dockyard.settings import Settings

LABEL_CLUSTER = "io.dockyard.cluster"
LABEL_INDEX = "io.dockyard.cluster.index"
LABEL_NODE = "io.dockyard.cluster.node"


@dataclass(frozen=True)
class Placement:
    """Where a new member should go; None everywhere lets the scheduler choose."""

    host: str | None = None
    zone: str | None = None
    hints: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class HostInfo:
    uuid: str
    hostname: str
    zone: str
    labels: dict[str, str]
    cpu_load: float

    def in_group(self, group: str) -> bool:
        """host_cluster: an availability zone, or a host label written key=value."""
        key, sep, value = group.partition("=")
        return self.labels.get(key) == value if sep else self.zone == group

    def candidate(self) -> Candidate:
        return Candidate(self.hostname, self.zone, self.cpu_load)


def controller_context(project_id: str, user_id: str, rules: Authorizer) -> RequestContext:
    """Who the cluster controller acts as: the cluster's project (its quota, its containers),
    with the right to choose hosts, because placement policies are Dockyard's own decision;
    what a user may ask for in a profile is checked when the profile is made."""
    return RequestContext(project_id, user_id, frozenset({"admin"}), policy=rules)


def member_labels(cluster_id: str, node: ClusterNodeRow) -> dict[str, str]:
    return {LABEL_CLUSTER: cluster_id, LABEL_INDEX: str(node.index), LABEL_NODE: node.id}


def container_body(
    profile: ClusterProfileRow, name: str, labels: dict[str, str], where: Placement
) -> ContainerCreate:
    """The create body of a member of `profile`, named `name`, placed as `where` says."""
    props = dict(profile.spec.get("properties", {}))
    if profile.type.startswith("container.dockerinc.docker"):
        docker = DockerProfile.model_validate(props)
        body: dict[str, Any] = {"image": docker.image}
        if docker.command:
            body["command"] = shlex.split(docker.command)
    else:
        body = DockyardProfile.model_validate(props).model_dump(exclude_unset=True, mode="json")
    body["name"] = name
    body["labels"] = {**body.get("labels", {}), **labels}
    if where.host:
        body["host"] = where.host
    if where.zone:
        body["availability_zone"] = where.zone
    if where.hints:
        body["hints"] = {**(body.get("hints") or {}), **dict(where.hints)}
    return ContainerCreate.model_validate(body)


def capsule_spec(
    profile: ClusterProfileRow, name: str, labels: dict[str, str], where: Placement
) -> CapsuleSpec | None:
    """The capsule a member of `profile` is, or None when its members are containers (a
    capsule is placed by zone only: its members share one sandbox the scheduler places)."""
    props = profile.spec.get("properties", {})
    if not profile.type.startswith("container.dockyard") or "template" not in props:
        return None
    spec = parse_template(props["template"], CAPSULE_TEMPLATE_VERSION)
    return replace(spec, name=name, labels={**spec.labels, **labels},
                   availability_zone=where.zone or spec.availability_zone)  # fmt: skip


@dataclass
class Members:
    containers: ContainerService
    sessions: Sessions
    settings: Settings
    capsules: CapsuleService | None = None

    async def make(
        self, ctx: RequestContext, profile: ClusterProfileRow, name: str,
        labels: dict[str, str], where: Placement,
    ) -> str:  # fmt: skip
        """Accept a member of `profile` (a container, or a capsule when the profile has a
        template); its uuid (DockyardError: the reason it was refused)."""
        capsule = capsule_spec(profile, name, labels, where)
        if capsule is None:
            return await self.create(ctx, container_body(profile, name, labels, where))
        if self.capsules is None:
            raise InvalidValue("Capsule members are not served here.")
        return (await self.capsules.create(ctx, capsule)).row.uuid

    async def create(self, ctx: RequestContext, body: ContainerCreate) -> str:
        """Accept the member's container; its uuid (DockyardError: the reason it was refused)."""
        row = await self.containers.create(ctx, body, run=True, legacy_command=False)
        return row.uuid

    async def find(self, ctx: RequestContext, ident: str) -> Unit | None:
        """The member's container, or its capsule; None when neither exists."""
        try:
            return await self.containers.get(ctx, ident)
        except ContainerNotFound:
            pass
        if self.capsules is None:
            return None
        try:
            view = await self.capsules.get(ctx, ident)
        except CapsuleNotFound:
            return None
        sandbox = view.sandbox
        # The capsule row may not name its host; its sandbox, where it runs, does.
        host = view.row.host_uuid or (sandbox.host_uuid if sandbox else None)
        return CapsuleUnit(view.row.uuid, view.status.value, view.status_reason, host,
                           sandbox.addresses if sandbox else None,
                           sandbox.container_id if sandbox else None)  # fmt: skip

    async def delete(self, ctx: RequestContext, uuid: str) -> None:
        """Remove the member's container or capsule (whatever its state); gone is fine."""
        row = await self.find(ctx, uuid)
        if row is None or row.status == Status.DELETING.value:
            return
        if isinstance(row, CapsuleUnit) and self.capsules is not None:
            await self.capsules.delete(ctx, uuid)
            return
        if row.status == Status.PAUSED.value:
            await self.containers.unpause(ctx, uuid)
        await self.containers.delete(ctx, uuid, force=True, stop=True, all_projects=False)

    async def reboot(self, ctx: RequestContext, uuid: str) -> None:
        """Restart a container member (a capsule is recreated instead: not found here)."""
        row = await self.find(ctx, uuid)
        if not isinstance(row, ContainerRow):
            raise ContainerNotFound(ident=uuid)
        if row.status in (Status.STOPPED.value, Status.CREATED.value):
            await self.containers.start(ctx, uuid)
        else:
            await self.containers.reboot(ctx, uuid, timeout=None)

    async def rebuild(self, ctx: RequestContext, uuid: str) -> None:
        """Remake the member's engine container in place: same uuid, name and spec."""
        await self.containers.rebuild(ctx, uuid, None)

    async def hosts(self) -> list[HostInfo]:
        """The hosts that are up and enabled, with their CPU load: the share of their CPUs
        their containers were seen using (what they claim, where the agent cannot tell)."""
        seen_since = utcnow() - timedelta(seconds=self.settings.scheduler.host_down_after)
        async with self.sessions() as session:
            rows = await HostRepository(session).list_up(seen_since)
        return [_host_info(r) for r in rows if not r.disabled and not r.forced_down]


def _host_info(row: HostRow) -> HostInfo:
    used = row.cpu_observed if row.cpu_observed is not None else row.cpu_used
    load = used / row.cpus if row.cpus else 1.0
    return HostInfo(row.uuid, row.hostname, row.availability_zone, dict(row.labels or {}), load)


def describe(exc: DockyardError) -> str:
    return exc.text if not isinstance(exc, InvalidValue) else f"Invalid member spec: {exc.text}"
