"""Sandboxes: made with a container (or a capsule), joined by others, retired with the last."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.db.engine import Session, Sessions
from dockyard.db.repositories.capsules import CapsuleRepository, CapsuleVolumes
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.sandboxes import SandboxRepository
from dockyard.db.tables import CapsuleRow, SandboxRow, new_uuid
from dockyard.domain.containers import DesiredState, Status
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import Conflict, InvalidValue
from dockyard.schemas.agent import SandboxAssignment, SandboxReport
from dockyard.services.container_networks import has_tenant_addresses
from dockyard.settings import Settings

SANDBOX = "sandbox"
STANDALONE = "standalone"


def new_sandbox(ctx: RequestContext, settings: Settings, hostname: str | None) -> SandboxRow:
    """A sandbox made for one container (or capsule); it goes away with its last member."""
    return SandboxRow(
        uuid=new_uuid(),
        project_id=ctx.project_id,
        user_id=ctx.user_id,
        hostname=hostname,
        share_pid=False,
        auto_delete=True,
        cpu=settings.containers.sandbox_cpu,
        memory=settings.containers.sandbox_memory,
        desired_state=DesiredState.RUNNING.value,
        generation=1,
        status=Status.CREATING.value,
        observed_generation=0,
        revision=0,
    )


async def sandbox_for_create(
    session: Session,
    ctx: RequestContext,
    settings: Settings,
    *,
    mode: str | None,
    join: str | None,
    hostname: str | None,
    share_pid: bool = False,
) -> SandboxRow | None:
    """The sandbox a new container runs in: an existing one of the project, a new one, or
    None for a standalone container."""
    if join:
        if mode == STANDALONE:
            raise InvalidValue("A standalone container cannot join a sandbox.")
        sandbox = await SandboxRepository(session, TenantScope(ctx.project_id)).get(
            join, for_update=True
        )
        if sandbox.desired_state == DesiredState.DELETED.value:
            raise Conflict(f"Sandbox {sandbox.uuid} is being deleted.")
        if hostname or share_pid:
            raise InvalidValue(
                "A container joining a sandbox takes the sandbox's hostname and PID sharing."
            )
        return sandbox
    if (mode or settings.containers.sandbox_mode) != SANDBOX:
        if share_pid:
            raise InvalidValue("share_pid needs a sandbox (sandbox_mode 'sandbox').")
        return None
    sandbox = new_sandbox(ctx, settings, hostname)
    sandbox.share_pid = share_pid
    SandboxRepository(session, TenantScope(ctx.project_id)).add(sandbox)
    await session.flush()  # no ORM relationship orders the inserts: the member row refers to it
    return sandbox


async def retire_if_empty(session: Session, sandbox_uuid: str | None) -> str | None:
    """Mark an auto-delete sandbox with no members left for deletion.

    Returns the host to wake, if any. An unplaced sandbox is simply dropped.
    """
    if sandbox_uuid is None:
        return None
    repo = SandboxRepository(session, TenantScope.all_projects())
    sandbox = await repo.find(sandbox_uuid, for_update=True)
    if sandbox is None or not sandbox.auto_delete or await repo.count_members(sandbox.uuid):
        return None
    if sandbox.host_uuid is None:
        await forget_sandbox(session, sandbox)
        return None
    if sandbox.desired_state != DesiredState.DELETED.value:
        sandbox.desired_state = DesiredState.DELETED.value
        sandbox.status = Status.DELETING.value
        await repo.bump_generation(sandbox)
        # Its members' ports went with them (their own revisions moved the networks).
        hosts = HostRepository(session)
        sandbox.revision = await hosts.bump_revision(sandbox.host_uuid, network=False)
    return sandbox.host_uuid


async def apply_sandbox_report(session: Session, host_uuid: str, report: SandboxReport) -> None:
    """Record a sandbox observation; a removed sandbox's row (and charge) goes."""
    repo = SandboxRepository(session, TenantScope.all_projects())
    row = await repo.find(report.uuid, for_update=True)
    if row is None or row.host_uuid != host_uuid:
        return
    if report.gone and row.desired_state == DesiredState.DELETED.value:
        # Release only what this call removed: a repeated "gone" must not release twice.
        capsule = await CapsuleRepository(session, TenantScope.all_projects()).find_by_sandbox(
            row.uuid
        )
        if await _forget(session, row, capsule):
            # A capsule's ports went with it (a container's went with the container): its
            # host's revision moves in the release's UPDATE.
            hosts = HostRepository(session)
            await hosts.release(host_uuid, row.cpu, row.memory, touch=capsule is not None)
        return
    if row.desired_state != DesiredState.DELETED.value and report.status:
        row.status = report.status
        row.status_reason = report.status_reason
    row.observed_generation = max(row.observed_generation, report.generation)
    if report.container_id:
        row.container_id = report.container_id
    if report.addresses is not None and not has_tenant_addresses(row.addresses):
        row.addresses = report.addresses  # the engine's, unless the control plane gave ports


async def forget_sandbox(session: Session, sandbox: SandboxRow) -> bool:
    """Drop a sandbox row, and the capsule that owned it (its last trace goes with it).

    False when the row was already gone.
    """
    capsules = CapsuleRepository(session, TenantScope.all_projects())
    return await _forget(session, sandbox, await capsules.find_by_sandbox(sandbox.uuid))


async def _forget(session: Session, sandbox: SandboxRow, capsule: CapsuleRow | None) -> bool:
    """forget_sandbox with its capsule (or None) already read."""
    if capsule is not None:
        await CapsuleRepository(session, TenantScope.all_projects()).delete(capsule)
    await session.flush()
    return await SandboxRepository(session, TenantScope.all_projects()).delete(sandbox)


async def sandbox_volumes(session: Session, sandbox_uuids: Sequence[str]) -> dict[str, list[str]]:
    """Engine volumes that belong to each sandbox (a capsule's volumes go with its sandbox)."""
    return await CapsuleVolumes(session).for_sandboxes(sandbox_uuids)


def sandbox_assignment(row: SandboxRow, volumes: Sequence[str] = ()) -> SandboxAssignment:
    return SandboxAssignment(
        uuid=row.uuid,
        project_id=row.project_id,
        generation=row.generation,
        desired_state=row.desired_state,
        hostname=row.hostname,
        share_pid=row.share_pid,
        container_id=row.container_id,
        volumes=list(volumes),
    )


@dataclass
class SandboxService:
    """Read access for the API (GET /v1/sandboxes)."""

    sessions: Sessions

    async def list(
        self, ctx: RequestContext, *, limit: int, marker: str | None, all_projects: bool
    ) -> builtins.list[tuple[SandboxRow, builtins.list[str]]]:
        async with self.sessions() as session:
            repo = SandboxRepository(session, TenantScope.of(ctx, all_projects))
            rows = await repo.list(limit, marker)
            return [(r, [m.uuid for m in await repo.members(r.uuid)]) for r in rows]

    async def get(self, ctx: RequestContext, ident: str) -> tuple[SandboxRow, builtins.list[str]]:
        scope = TenantScope.all_projects() if ctx.is_admin else TenantScope.of(ctx)
        async with self.sessions() as session:
            repo = SandboxRepository(session, scope)
            row = await repo.get(ident)
            return row, [m.uuid for m in await repo.members(row.uuid)]
