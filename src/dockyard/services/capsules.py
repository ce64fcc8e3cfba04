"""Capsule use cases: a sandbox, its init containers and containers, made and removed as one."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.capsules import CapsuleRepository
from dockyard.db.repositories.containers import ContainerRepository
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.pending import wake_schedulers
from dockyard.db.tables import CapsuleRow, ContainerRow, SandboxRow, new_uuid, utcnow
from dockyard.domain.capsules import (
    MemberState,
    capsule_status,
    member_container_name,
    volume_engine_name,
)
from dockyard.domain.containers import DesiredState, Status, TaskState
from dockyard.domain.containerspec import ContainerSpec, RestartPolicy, VolumeMount
from dockyard.domain.quotas import Usage
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import DuplicateEntry, InvalidValue, ResourceExists
from dockyard.schemas.capsules import CapsuleSpec, MemberSpec
from dockyard.services import attachments, quotas
from dockyard.services.container_networks import check_one_port_per_network
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.project_defaults import ensure_project_defaults
from dockyard.services.registries import match_domains
from dockyard.services.sandboxes import new_sandbox, retire_if_empty
from dockyard.services.security_groups import groups_named
from dockyard.services.volumes import attach, named_volumes, with_named_volumes
from dockyard.settings import Settings


@dataclass(frozen=True)
class CapsuleView:
    """A capsule with its members, as the API renders it."""

    row: CapsuleRow
    sandbox: SandboxRow | None
    init_containers: list[ContainerRow]
    containers: list[ContainerRow]
    status: Status
    status_reason: str | None


@dataclass
class CapsuleService:
    sessions: Sessions
    settings: Settings
    directory: HostDirectory

    async def create(self, ctx: RequestContext, spec: CapsuleSpec) -> CapsuleView:
        """Accept a capsule: one sandbox, its members in order, to be placed on one host."""
        limits = self.settings.containers
        members = [*spec.init_containers, *spec.containers]
        for member in members:
            self._check_member(member)
        nets = attachments.parse_nets(spec.nets)  # a bad entry: 400 before anything is made
        await ensure_project_defaults(self.sessions, ctx.project_id, network=not nets)
        try:
            async with transaction(self.sessions) as session:
                capsules = CapsuleRepository(session, TenantScope(ctx.project_id))
                if await capsules.name_taken(ctx.project_id, spec.name):
                    raise ResourceExists(f"A capsule named {spec.name} already exists.")
                sandbox = new_sandbox(ctx, self.settings, hostname=spec.name[:63])
                session.add(sandbox)
                await session.flush()
                row = _capsule_row(ctx, spec, sandbox, limits.default_cpu, limits.default_memory)
                capsules.add(row)
                await session.flush()
                sandbox.addresses = await _attach(session, ctx.project_id, row, nets)
                named, host = await named_volumes(session, ctx, spec.named_volumes)
                rows = self._member_rows(ctx, spec, row, sandbox)
                for made in rows:  # a named volume is a project's: mount it by its uuid
                    made.spec = with_named_volumes(made.spec, row.uuid, named, host)
                    made.addresses = sandbox.addresses  # they share the sandbox's network
                await match_domains(session, ctx.project_id, rows)
                await self._add_members(session, rows, sandbox)
                for made in rows:  # after the rows: an attachment refers to its container
                    attach(session, made)
        except DuplicateEntry as exc:
            raise ResourceExists(
                f"Capsule {spec.name} or one of its containers exists, or a concurrent create "
                "took an address chosen for it (then try again)."
            ) from exc
        return await self.get(ctx, row.uuid)

    def _check_member(self, member: MemberSpec) -> None:
        limits = self.settings.containers
        if member.cpu is not None and not limits.minimum_cpus <= member.cpu <= limits.maximum_cpus:
            raise InvalidValue(f"Container {member.name}: cpu {member.cpu} is out of range.")
        memory = member.memory
        if memory is not None and not limits.minimum_memory <= memory <= limits.maximum_memory:
            raise InvalidValue(f"Container {member.name}: memory {memory} MiB is out of range.")

    def _member_rows(
        self, ctx: RequestContext, spec: CapsuleSpec, capsule: CapsuleRow, sandbox: SandboxRow
    ) -> list[ContainerRow]:
        rows = [
            _member_row(ctx, spec, capsule, sandbox, m, "init", i, self.settings)
            for i, m in enumerate(spec.init_containers)
        ]
        rows += [
            _member_row(ctx, spec, capsule, sandbox, m, "container", i, self.settings)
            for i, m in enumerate(spec.containers)
        ]
        return rows

    async def _add_members(
        self, session: Session, rows: list[ContainerRow], sandbox: SandboxRow
    ) -> None:
        """Insert the members, charge them to the quota and wake the schedulers, which place
        the sandbox and all its members together on one host, or fail them all."""
        containers = ContainerRepository(session, TenantScope(sandbox.project_id))
        charge = Usage()
        created = utcnow()  # one time: the members are next to each other in the queue
        for row in rows:
            if await containers.name_taken(row.project_id, row.name):
                raise ResourceExists(f"A container named {row.name} already exists.")
            row.created_at = created
            containers.add(row)
            charge = charge + quotas.usage_of(row)
        await session.flush()
        await quotas.reserve(session, self.settings.quota, sandbox.project_id, charge)
        wake_schedulers(session)

    async def list(
        self, ctx: RequestContext, *, limit: int, marker: str | None, sort_dir: str,
        all_projects: bool,
    ) -> builtins.list[CapsuleView]:  # fmt: skip
        async with self.sessions() as session:
            repo = CapsuleRepository(session, TenantScope.of(ctx, all_projects))
            rows = await repo.list(limit, marker, sort_dir)
            return [await _view(session, repo, row) for row in rows]

    async def get(self, ctx: RequestContext, ident: str) -> CapsuleView:
        async with self.sessions() as session:
            repo = CapsuleRepository(session, _scope(ctx))
            return await _view(session, repo, await repo.get(ident))

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        """Mark the capsule and its members for deletion; the agent removes them, then the
        sandbox goes with its last member and the capsule row with its sandbox."""
        async with transaction(self.sessions) as session:
            repo = CapsuleRepository(session, _scope(ctx))
            capsule = await repo.get(ident, for_update=True)
            capsule.desired_state = DesiredState.DELETED.value
            capsule.status = Status.DELETING.value
            containers = ContainerRepository(session, TenantScope.all_projects())
            for member in await repo.members(capsule.uuid):
                await _mark_deleted(session, containers, member)
            await session.flush()
            await retire_if_empty(session, capsule.sandbox_uuid)


async def _attach(
    session: Session, project_id: str, capsule: CapsuleRow, nets: list[dict[str, str]]
) -> dict[str, Any] | None:
    """The capsule's ports (its `nets`, else the project's default network), in the default
    security group; the agent plugs them into the sandbox its members share. Returns Zun's
    `addresses` of them."""
    groups = [g.uuid for g in await groups_named(session, project_id, [])]
    owner = {"capsule_uuid": capsule.uuid}
    locked = await attachments.lock_addresses(session, project_id, nets, default=not nets)
    if nets:
        ports = [await attachments.attach(session, project_id, owner, e, groups, locked)
                 for e in nets]  # fmt: skip
    else:
        ports = [await attachments.attach_default(session, project_id, owner, groups, locked)]
    check_one_port_per_network(ports)
    return attachments.addresses_of(ports)


async def _mark_deleted(
    session: Session, containers: ContainerRepository, member: ContainerRow
) -> str | None:
    if member.host_uuid is None:
        await containers.delete(member)
        return None
    if member.desired_state != DesiredState.DELETED.value:
        member.desired_state = DesiredState.DELETED.value
        member.status = Status.DELETING.value
        member.task_state = TaskState.DELETING.value
        await containers.bump_generation(member)
        # The capsule's ports stay until its sandbox is reported gone.
        hosts = HostRepository(session)
        member.revision = await hosts.bump_revision(member.host_uuid, network=False)
    return member.host_uuid


def _scope(ctx: RequestContext) -> TenantScope:
    return TenantScope.all_projects() if ctx.is_admin else TenantScope.of(ctx)


async def _view(session: Session, repo: CapsuleRepository, row: CapsuleRow) -> CapsuleView:
    members = await repo.members(row.uuid)
    sandbox = await session.get(SandboxRow, row.sandbox_uuid) if row.sandbox_uuid else None
    inits = sorted((m for m in members if m.container_type == "init"), key=_order)
    mains = sorted((m for m in members if m.container_type != "init"), key=_order)
    states = [
        MemberState(m.name, m.container_type == "init", m.status, m.exit_code, m.status_reason)
        for m in [*inits, *mains]
    ]
    status, reason = capsule_status(row.desired_state == DesiredState.DELETED.value, states)
    return CapsuleView(row, sandbox, inits, mains, status, reason)


def _order(row: ContainerRow) -> int:
    return row.capsule_order


def _capsule_row(
    ctx: RequestContext, spec: CapsuleSpec, sandbox: SandboxRow, cpu: float, memory: int
) -> CapsuleRow:
    return CapsuleRow(
        uuid=new_uuid(),
        project_id=ctx.project_id,
        user_id=ctx.user_id,
        name=spec.name,
        labels=dict(spec.labels),
        annotations=dict(spec.annotations),
        restart_policy={
            "Name": spec.restart_policy[0],
            "MaximumRetryCount": spec.restart_policy[1],
        },
        template={},
        volumes=list(spec.volumes),
        cpu=spec.cpu or cpu,
        memory=spec.memory or memory,
        sandbox_uuid=sandbox.uuid,
        desired_state=DesiredState.RUNNING.value,
        status=Status.CREATING.value,
    )


def _member_row(
    ctx: RequestContext,
    spec: CapsuleSpec,
    capsule: CapsuleRow,
    sandbox: SandboxRow,
    member: MemberSpec,
    kind: str,
    order: int,
    settings: Settings,
) -> ContainerRow:
    return ContainerRow(
        uuid=new_uuid(), project_id=ctx.project_id, user_id=ctx.user_id,
        name=member_container_name(capsule.name, member.name),
        spec=_member_spec(spec, capsule, member, kind, settings), hostname=None,
        sandbox_uuid=sandbox.uuid, capsule_uuid=capsule.uuid, container_type=kind,
        capsule_order=order,
        desired_state=DesiredState.RUNNING.value, generation=1, state_requested_at=utcnow(),
        status=Status.CREATING.value, observed_generation=0, revision=0,
    )  # fmt: skip


def _member_spec(
    spec: CapsuleSpec, capsule: CapsuleRow, member: MemberSpec, kind: str, settings: Settings
) -> ContainerSpec:
    """A capsule member is a container: the same spec, from the template's words."""
    stored = capsule.restart_policy  # Zun's spelling: {"Name", "MaximumRetryCount"}
    policy = RestartPolicy(str(stored.get("Name", "no")), int(stored.get("MaximumRetryCount", 0)))
    if kind == "init":  # an init container runs once, to completion
        policy = RestartPolicy("no", 0)
    return ContainerSpec(
        image=member.image,
        command=member.command,
        environment=dict(member.environment),
        labels=dict(capsule.labels),
        workdir=member.workdir,
        cpu=float(member.cpu or settings.containers.default_cpu),
        memory=int(member.memory or settings.containers.default_memory),
        restart_policy=policy,
        interactive=member.stdin,
        tty=member.tty,
        exposed_ports=[f"{port}/{proto}" for port, proto in member.ports],
        image_pull_policy=member.image_pull_policy,
        availability_zone=spec.availability_zone,
        volume_mounts=[
            VolumeMount(volume_engine_name(capsule.uuid, name), path, read_only)
            for name, path, read_only in member.volume_mounts
        ],
    )
