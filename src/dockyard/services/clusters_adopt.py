"""Node adoption (Senlin's `node adopt` / `--preview`): an existing container of the caller's
project becomes a standalone node, with a profile made from its spec (plus overrides), so
that `cluster members add` can later put it into a cluster of that profile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.db.clusters_tables import ClusterNodeRow, ClusterProfileRow
from dockyard.db.engine import Sessions, transaction
from dockyard.db.repositories.clusters import NodeRepository
from dockyard.db.tables import ContainerRow
from dockyard.domain.clusters import NodeStatus
from dockyard.domain.containerspec import ContainerSpec
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import ContainerNotFound, InvalidValue
from dockyard.schemas.clusters import as_map, as_name, only
from dockyard.schemas.clusters_specs import PROFILE_TYPES, SpecError, validate
from dockyard.services.clusters_views import View, node_view
from dockyard.services.containers import ContainerService

ADOPTABLE = "container.dockyard-1.0"  # a docker profile would need the engine's host address
_FIELDS = {"identity", "type", "overrides", "snapshot"}


def adopted_properties(spec: ContainerSpec) -> dict[str, Any]:
    """The container.dockyard properties that make a container like `spec`."""
    props: dict[str, Any] = {"image": spec.image}
    labels = {k: v for k, v in spec.labels.items() if not k.startswith("io.dockyard.")}
    optional: dict[str, Any] = {
        "command": spec.command, "entrypoint": spec.entrypoint,
        "environment": dict(spec.environment), "labels": labels, "workdir": spec.workdir,
        "cpu": spec.cpu, "memory": spec.memory, "tty": spec.tty,
        "interactive": spec.interactive,
        "exposed_ports": {port: {} for port in spec.exposed_ports},
    }  # fmt: skip
    props.update({k: v for k, v in optional.items() if v})
    policy = spec.restart_policy
    if policy.name != "no":
        props["restart_policy"] = {"Name": policy.name,
                                   "MaximumRetryCount": policy.maximum_retry_count}  # fmt: skip
    return props


@dataclass
class Adoption:
    sessions: Sessions
    containers: ContainerService

    async def preview(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        """The profile spec the container would be adopted with (nothing is made)."""
        only(body, _FIELDS, "node adopt preview")
        container = await self._container(ctx, body)
        return self._spec(container, body)

    async def adopt(self, ctx: RequestContext, body: dict[str, Any]) -> View:
        """A standalone ACTIVE node for the container, and its profile `prof-<node name>`."""
        only(body, _FIELDS | {"name", "role", "metadata"}, "node adopt")
        container = await self._container(ctx, body)
        spec = self._spec(container, body)
        name = as_name(body.get("name") or f"node-{container.uuid[:8]}")
        async with transaction(self.sessions) as session:
            nodes = NodeRepository(session, TenantScope.all_projects())
            if await nodes.of_physical(container.uuid) is not None:
                raise InvalidValue(f"The container '{container.uuid}' is already a node.")
            profile = ClusterProfileRow(
                project_id=ctx.project_id, user_id=ctx.user_id, name=f"prof-{name}",
                type=ADOPTABLE, spec=spec, meta_data={},
            )  # fmt: skip
            session.add(profile)
            await session.flush()
            node = ClusterNodeRow(
                project_id=ctx.project_id, user_id=ctx.user_id, name=name, cluster_id=None,
                profile_id=profile.id, index=-1, role=body.get("role"),
                physical_id=container.uuid, status=NodeStatus.ACTIVE.value,
                status_reason="Node adopted successfully.",
                meta_data=as_map(body.get("metadata"), "metadata"),
                data={"container_name": container.name, "adopted": True}, tainted=False,
            )  # fmt: skip
            session.add(node)
            await session.flush()
            return node_view(node, profile.name)

    async def _container(self, ctx: RequestContext, body: dict[str, Any]) -> ContainerRow:
        if body.get("type") != ADOPTABLE:
            raise InvalidValue(
                f"The profile type '{body.get('type')}' cannot adopt: use '{ADOPTABLE}'."
            )
        identity = body.get("identity")
        if not isinstance(identity, str) or not identity:
            raise InvalidValue("The 'identity' (a container's uuid or name) is required.")
        try:
            return await self.containers.get(ctx, identity)
        except ContainerNotFound:
            raise InvalidValue(f"The container '{identity}' could not be found.") from None

    def _spec(self, container: ContainerRow, body: dict[str, Any]) -> dict[str, Any]:
        """The profile spec from the container's own, with the request's overrides on top."""
        props = {**adopted_properties(container.spec), **as_map(body.get("overrides"), "overrides")}
        spec = {"type": "container.dockyard", "version": "1.0", "properties": props}
        try:
            validate(PROFILE_TYPES, spec, "profile")
        except SpecError as exc:
            raise InvalidValue(str(exc)) from None
        return spec
