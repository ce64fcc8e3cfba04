"""Clustering use cases: profiles, policies and clusters; each call one transaction, scoped to
the caller's project. Work on members is left to the cluster controller (clusters_loop)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.db.clusters_tables import ClusterPolicyRow, ClusterProfileRow, ClusterRow
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.clusters import (
    BindingRepository,
    ClusterRepository,
    NodeRepository,
    OwnedRepository,
    PolicyRepository,
    ProfileRepository,
)
from dockyard.db.repositories.hosts import HostRepository
from dockyard.domain.clusters import Bounds, ClusterStatus, SizeError
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import Conflict, InvalidValue
from dockyard.schemas.clusters import ClusterCreate, as_int, as_map, as_name, envelope, only
from dockyard.schemas.clusters_specs import (
    POLICY_TYPES,
    PROFILE_TYPES,
    PROFILE_UPDATABLE,
    DockerProfile,
    DockyardProfile,
    SpecError,
    schema_of,
    validate,
)
from dockyard.services import policy
from dockyard.services.clusters_nodes import new_action, record_event
from dockyard.services.clusters_views import View, cluster_view, policy_view, profile_view

# Fields of a container.dockyard profile that need the same rights as on a container create.
_GUARDED = {"privileged": "privileged", "runtime": "runtime",
            "image_pull_policy": "image_pull_policy", "host": "requested_destination"}  # fmt: skip


def scope_of(ctx: RequestContext, global_project: bool = False) -> TenantScope:
    if global_project:
        policy.authorize(ctx, "clusters:global_project")
    return TenantScope.of(ctx, global_project)


@dataclass
class ClusterService:
    sessions: Sessions
    wake: Callable[[], None] = field(default=lambda: None)

    # --- types -------------------------------------------------------------------------------

    def profile_types(self) -> list[View]:
        return [_type_view(name) for name in PROFILE_TYPES]

    def profile_type(self, name: str) -> View:
        return _type_detail(PROFILE_TYPES, name, "profile_type")

    def policy_types(self) -> list[View]:
        return [_type_view(name) for name in POLICY_TYPES]

    def policy_type(self, name: str) -> View:
        return _type_detail(POLICY_TYPES, name, "policy_type")

    # --- profiles ----------------------------------------------------------------------------

    async def create_profile(self, ctx: RequestContext, body: dict[str, Any]) -> View:
        data = envelope(body, "profile")
        only(data, {"name", "spec", "metadata"}, "profile")
        spec = await self.validate_profile(ctx, data.get("spec"))
        row = ClusterProfileRow(
            project_id=ctx.project_id, user_id=ctx.user_id, name=as_name(data.get("name")),
            type=f"{spec['type']}-{spec['version']}", spec=spec,
            meta_data=as_map(data.get("metadata"), "metadata"),
        )  # fmt: skip
        async with transaction(self.sessions) as session:
            session.add(row)
        return profile_view(row)

    async def validate_profile(self, ctx: RequestContext, spec: Any) -> dict[str, Any]:
        """The spec if members can be made of it; InvalidValue (400) saying why not."""
        try:
            props = validate(PROFILE_TYPES, spec, "profile")
        except SpecError as exc:
            raise InvalidValue(str(exc)) from None
        if isinstance(props, DockyardProfile):
            for name, rule in _GUARDED.items():
                if getattr(props, name):
                    policy.authorize(ctx, f"container:create:{rule}")
        if isinstance(props, DockerProfile):
            await self._check_hosts(ctx, props)
        return dict(spec)

    async def _check_hosts(self, ctx: RequestContext, props: DockerProfile) -> None:
        if props.host_node is None:
            return
        policy.authorize(ctx, "container:create:requested_destination")
        async with self.sessions() as session:
            host = await HostRepository(session).find(props.host_node)
        if host is None:
            raise InvalidValue(f"The host_node '{props.host_node}' is not a known host.")
        group = props.host_cluster
        if group:
            key, sep, value = group.partition("=")
            inside = (
                (host.labels or {}).get(key) == value if sep else (host.availability_zone == group)
            )
            if not inside:
                raise InvalidValue(
                    f"The host_node '{props.host_node}' is not in host_cluster '{group}'."
                )

    async def list_profiles(self, ctx: RequestContext, query: Query) -> list[View]:
        rows = await self._list(ProfileRepository, ctx, query)
        return [profile_view(r) for r in rows]

    async def get_profile(self, ctx: RequestContext, ident: str) -> View:
        async with self.sessions() as session:
            return profile_view(await ProfileRepository(session, scope_of(ctx)).get(ident))

    async def update_profile(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> View:
        data = envelope(body, "profile")
        only(data, {"name", "metadata"}, "profile update")
        async with transaction(self.sessions) as session:
            row = await ProfileRepository(session, scope_of(ctx)).get(ident, for_update=True)
            if "name" in data:
                row.name = as_name(data["name"])
            if "metadata" in data:
                row.meta_data = as_map(data["metadata"], "metadata")
        return profile_view(row)

    async def delete_profile(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = ProfileRepository(session, scope_of(ctx))
            row = await repo.get(ident, for_update=True)
            if await ClusterRepository(session, scope_of(ctx)).uses_profile(row.id):
                raise Conflict(f"The profile '{ident}' cannot be deleted: still in use.")
            await repo.remove(row)

    # --- policies ----------------------------------------------------------------------------

    def validate_policy(self, spec: Any) -> dict[str, Any]:
        try:
            validate(POLICY_TYPES, spec, "policy")
        except SpecError as exc:
            raise InvalidValue(str(exc)) from None
        return dict(spec)

    async def create_policy(self, ctx: RequestContext, body: dict[str, Any]) -> View:
        data = envelope(body, "policy")
        only(data, {"name", "spec"}, "policy")
        spec = self.validate_policy(data.get("spec"))
        row = ClusterPolicyRow(
            project_id=ctx.project_id, user_id=ctx.user_id, name=as_name(data.get("name")),
            type=f"{spec['type']}-{spec['version']}", spec=spec, data={},
        )  # fmt: skip
        async with transaction(self.sessions) as session:
            session.add(row)
        return policy_view(row)

    async def list_policies(self, ctx: RequestContext, query: Query) -> list[View]:
        return [policy_view(r) for r in await self._list(PolicyRepository, ctx, query)]

    async def get_policy(self, ctx: RequestContext, ident: str) -> View:
        async with self.sessions() as session:
            return policy_view(await PolicyRepository(session, scope_of(ctx)).get(ident))

    async def update_policy(self, ctx: RequestContext, ident: str, body: dict[str, Any]) -> View:
        data = envelope(body, "policy")
        only(data, {"name"}, "policy update")
        async with transaction(self.sessions) as session:
            row = await PolicyRepository(session, scope_of(ctx)).get(ident, for_update=True)
            if "name" in data:
                row.name = as_name(data["name"])
        return policy_view(row)

    async def delete_policy(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = PolicyRepository(session, scope_of(ctx))
            row = await repo.get(ident, for_update=True)
            if await BindingRepository(session).policy_in_use(row.id):
                raise Conflict(f"The policy '{ident}' cannot be deleted: still attached.")
            await repo.remove(row)

    # --- clusters ----------------------------------------------------------------------------

    async def create_cluster(self, ctx: RequestContext, body: dict[str, Any]) -> tuple[View, str]:
        """Accept a cluster (INIT); the controller makes its members. (view, action id)."""
        spec = ClusterCreate.parse(body)
        bounds = Bounds(spec.min_size, spec.max_size)
        try:
            bounds.check()
            bounds.fit(spec.desired_capacity, strict=True)
        except SizeError as exc:
            raise InvalidValue(str(exc)) from None
        async with transaction(self.sessions) as session:
            profile = await specified(ProfileRepository(session, scope_of(ctx)), spec.profile_id)
            row = ClusterRow(
                project_id=ctx.project_id, user_id=ctx.user_id, name=spec.name,
                profile_id=profile.id, status=ClusterStatus.INIT.value,
                status_reason="Initializing", desired_capacity=spec.desired_capacity,
                min_size=spec.min_size, max_size=spec.max_size, timeout=spec.timeout or 3600,
                meta_data=spec.metadata, config=spec.config, data={}, next_index=1,
            )  # fmt: skip
            session.add(row)
            await session.flush()
            action = new_action(row, "CLUSTER_CREATE", user_id=ctx.user_id)
            session.add(action)
            record_event(session, row, "CLUSTER_CREATE", row.status, "Cluster accepted.")
            view = cluster_view(row, profile.name, [], [])
        self.wake()
        return view, action.id

    async def list_clusters(self, ctx: RequestContext, query: Query) -> list[View]:
        async with self.sessions() as session:
            repo = ClusterRepository(session, scope_of(ctx, query.global_project))
            rows = await repo.list(query.filters, limit=query.limit, marker=query.marker,
                                   sort=query.sort)  # fmt: skip
            return [await self._cluster_view(session, r) for r in rows]

    async def get_cluster(self, ctx: RequestContext, ident: str) -> View:
        async with self.sessions() as session:
            row = await ClusterRepository(session, scope_of(ctx)).get(ident)
            return await self._cluster_view(session, row)

    async def _cluster_view(self, session: Session, row: ClusterRow) -> View:
        scope = TenantScope.all_projects()
        profile = await ProfileRepository(session, scope).get(row.profile_id)
        nodes = await NodeRepository(session, scope).members(row.id)
        bindings = await BindingRepository(session).of_cluster(row.id)
        return cluster_view(row, profile.name, [n.id for n in nodes], [p.id for _, p in bindings])

    async def update_cluster(
        self, ctx: RequestContext, ident: str, body: dict[str, Any]
    ) -> tuple[View, str]:
        """Rename, change metadata or timeout, or change the profile (a rolling update)."""
        data = envelope(body, "cluster")
        only(data, {"name", "profile_id", "metadata", "timeout", "config", "profile_only"},
             "cluster update")  # fmt: skip
        async with transaction(self.sessions) as session:
            row = await ClusterRepository(session, scope_of(ctx)).get(ident, for_update=True)
            _check_not_deleting(row)
            inputs: dict[str, Any] = {}
            if data.get("name") is not None:
                row.name = as_name(data["name"])
            if data.get("metadata") is not None:
                row.meta_data = as_map(data["metadata"], "metadata")
            if data.get("timeout") is not None:
                row.timeout = as_int(data["timeout"], "timeout", minimum=0)
            if data.get("profile_id") is not None:
                inputs["new_profile_id"] = await self._new_profile(session, ctx, row, data)
            action = new_action(row, "CLUSTER_UPDATE", user_id=ctx.user_id, inputs=inputs)
            session.add(action)
            view = await self._cluster_view(session, row)
        self.wake()
        return view, action.id

    async def _new_profile(
        self, session: Session, ctx: RequestContext, row: ClusterRow, data: dict[str, Any]
    ) -> str:
        repo = ProfileRepository(session, scope_of(ctx))
        profile: ClusterProfileRow = await specified(repo, str(data["profile_id"]))
        old = await ProfileRepository(session, TenantScope.all_projects()).get(row.profile_id)
        if profile.type != old.type:
            raise InvalidValue(
                f"Cannot update a cluster to a different profile type, operation aborted: "
                f"'{old.type}' to '{profile.type}'."
            )
        if profile.id != row.profile_id:
            row.profile_id = profile.id
            row.data = {**row.data, "update": {"profile_id": profile.id}}
        return profile.id

    async def delete_cluster(self, ctx: RequestContext, ident: str) -> str:
        """Mark the cluster DELETING; the controller removes its members, then it."""
        async with transaction(self.sessions) as session:
            row = await ClusterRepository(session, scope_of(ctx)).get(ident, for_update=True)
            row.status, row.status_reason = ClusterStatus.DELETING.value, "Deletion in progress."
            action = new_action(row, "CLUSTER_DELETE", user_id=ctx.user_id)
            session.add(action)
            record_event(session, row, "CLUSTER_DELETE", row.status, row.status_reason)
        self.wake()
        return action.id

    # --- helpers -----------------------------------------------------------------------------

    async def _list(
        self, repo: type[OwnedRepository[Any]], ctx: RequestContext, query: Query
    ) -> Any:
        async with self.sessions() as session:
            found = repo(session, scope_of(ctx, query.global_project))
            return await found.list(query.filters, limit=query.limit, marker=query.marker,
                                    sort=query.sort)  # fmt: skip


@dataclass(frozen=True)
class Query:
    """A list request: filters (column → value or values), paging, sorting, scope."""

    filters: dict[str, Any]
    limit: int
    marker: str | None = None
    sort: tuple[tuple[str, str], ...] = ()
    global_project: bool = False


async def specified(repo: OwnedRepository[Any], ident: str) -> Any:
    """A profile or policy a request names; unknown is the request's fault: 400, as Senlin."""
    found = await repo.find(ident)
    if found is None:
        raise InvalidValue(f"The specified {repo.kind} '{ident}' could not be found.")
    return found


def _check_not_deleting(row: ClusterRow) -> None:
    if row.status == ClusterStatus.DELETING.value:
        raise Conflict(f"The cluster '{row.name}' is being deleted.")


def _type_view(name: str) -> View:
    version = name.rpartition("-")[2]
    support = {version: [{"status": "SUPPORTED", "since": "2026.12"}]}
    return {"name": name, "version": version, "support_status": support}


def _type_detail(registry: dict[str, Any], name: str, kind: str) -> View:
    from dockyard.domain.clusters import ClusterObjectNotFound

    model = registry.get(name)
    if model is None:
        raise ClusterObjectNotFound(kind=kind, ident=name)
    updatable = PROFILE_UPDATABLE.get(name, set())
    return {**_type_view(name), "schema": schema_of(model, updatable)}
