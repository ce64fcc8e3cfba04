"""Container use cases: each call is one transaction, scoped to the caller's project."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.db.engine import Session, Sessions, reading, transaction
from dockyard.db.repositories.base import is_uuid
from dockyard.db.repositories.containers import (
    ContainerRepository,
    ShownContainer,
    ShownContainers,
)
from dockyard.db.repositories.hosts import Claim, HostRepository
from dockyard.db.repositories.pending import PendingContainer, PendingSandbox, wake_schedulers
from dockyard.db.repositories.registries import RegistryRepository
from dockyard.db.tables import ContainerRow, HostRow, SandboxRow, new_uuid, utcnow
from dockyard.domain.containers import (
    Action,
    DesiredState,
    Status,
    TaskState,
    check_allowed,
    shown_status,
)
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import (
    Conflict,
    ContainerAlreadyExists,
    DuplicateEntry,
    HostUnavailable,
    ProjectDefaultMissing,
)
from dockyard.schemas.containers import ContainerCreate, ContainerUpdate
from dockyard.schemas.volumes import MountRequest, parse_mounts
from dockyard.services import policy, quotas
from dockyard.services.actions import Recording, add_action
from dockyard.services.batchscheduler import HostChoice, Scheduler
from dockyard.services.container_networks import attach_on_create, renamed
from dockyard.services.container_requests import check_create_policy, check_resources, spec_of
from dockyard.services.hostcalls import HostCalls
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.names import random_name
from dockyard.services.project_defaults import ensure_project_defaults, forget_project_defaults
from dockyard.services.sandboxes import retire_if_empty, sandbox_for_create
from dockyard.services.scheduling import is_host_up, is_unplaceable
from dockyard.services.signals import HostSignals
from dockyard.services.volumes import attach, mount_volumes
from dockyard.settings import Settings

Mounts = list[MountRequest]  # named here: inside the service, `list` is its method


@dataclass
class ContainerService:
    sessions: Sessions
    settings: Settings
    hostcalls: HostCalls
    directory: HostDirectory
    watch: HostSignals = field(default_factory=HostSignals)  # container uuid → status moved
    placer: Scheduler | None = None  # places a create in its own transaction when it can

    # --- queries ---------------------------------------------------------------------------

    async def get(
        self, ctx: RequestContext, ident: str, all_projects: bool = False
    ) -> ContainerRow:
        """The container ident (uuid or name) in the caller's scope; 404 otherwise."""
        async with self.sessions() as session:
            return await self._repo(session, ctx, all_projects).get(ident)

    async def shown(
        self, ctx: RequestContext, ident: str, all_projects: bool = False
    ) -> ShownContainer:
        """get(), as GET /v1/containers/{ident} shows it: what the view reads, and only that
        (a Core read; no ORM object to load)."""
        async with reading(self.sessions) as connection:
            return await ShownContainers(connection, self._scope(ctx, all_projects)).get(ident)

    async def wait_for_status(
        self,
        ctx: RequestContext,
        ident: str,
        statuses: frozenset[str],
        timeout: float,
        all_projects: bool = False,
    ) -> ShownContainer:
        """The container once its status is one of `statuses`, or as it is after timeout.

        Woken when a status change commits, on this replica or (PostgreSQL) on another.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        uuid = ident if is_uuid(ident) else (await self.shown(ctx, ident, all_projects)).uuid
        with self.watch.watching(uuid) as watch:  # an unknown uuid's 404 leaves nothing
            while True:
                seen = watch.version  # before the read: no change slips in between
                row = await self.shown(ctx, uuid, all_projects)
                remaining = deadline - loop.time()
                if row.status in statuses or remaining <= 0 or self.watch.closed:
                    return row
                await watch.wait(seen, remaining)

    async def list(
        self,
        ctx: RequestContext,
        filters: dict[str, Any],
        *,
        limit: int,
        marker: str | None,
        sort_key: str,
        sort_dir: str,
        all_projects: bool,
    ) -> list[ShownContainer]:
        async with reading(self.sessions) as connection:
            shown = ShownContainers(connection, TenantScope.of(ctx, all_projects))
            return await shown.list(
                filters, limit=limit, marker=marker, sort_key=sort_key, sort_dir=sort_dir
            )

    async def host_names(self, host_uuids: set[str]) -> dict[str, str]:
        """Hostnames for the given host uuids (for the admin-only `host` field)."""
        return await self.directory.names(host_uuids) if host_uuids else {}

    async def hosts_down(self) -> set[str]:
        """Uuids of hosts whose heartbeat stopped: their containers show as Unknown."""
        return await self.directory.down()

    # --- create ----------------------------------------------------------------------------

    async def create(
        self,
        ctx: RequestContext,
        body: ContainerCreate,
        *,
        run: bool,
        legacy_command: bool,
        recording: Recording | None = None,
    ) -> ContainerRow:
        """Accept a container (desired state only); a scheduler loop places it (woken at
        commit), the agent does the rest. `recording`: the create's action, written in the
        same transaction."""
        check_create_policy(ctx, body)
        mounts = parse_mounts(body.mounts or [])
        project, network = ctx.project_id, not body.nets
        if not body.sandbox:  # a joiner uses its sandbox's ports and groups
            await ensure_project_defaults(self.sessions, project, network=network, cached=True)
        row = self._new_row(ctx, body, run=run, legacy_command=legacy_command)
        try:
            try:
                await self._insert(ctx, body, row, mounts, recording)
            except ProjectDefaultMissing:  # deleted since this process saw it: once more
                forget_project_defaults(self.sessions, project)
                await ensure_project_defaults(self.sessions, project, network=network)
                row = self._new_row(ctx, body, run=run, legacy_command=legacy_command)
                await self._insert(ctx, body, row, mounts, recording)
        except DuplicateEntry as exc:
            # The name is taken: the row's insert met the unique (project, name), which no
            # read before it could spare (one statement fewer in every create's
            # transaction). Addresses cannot collide: their networks' subnets are locked
            # while a port is chosen.
            if await self._name_taken(ctx, row.name):
                raise ContainerAlreadyExists(name=row.name) from exc
            raise Conflict("A concurrent request took a unique value this container was "
                           "given; try again.") from exc  # fmt: skip
        return row

    async def _name_taken(self, ctx: RequestContext, name: str) -> bool:
        async with self.sessions() as session:
            repo = ContainerRepository(session, TenantScope(ctx.project_id))
            return await repo.name_taken(ctx.project_id, name)

    async def _insert(
        self,
        ctx: RequestContext,
        body: ContainerCreate,
        row: ContainerRow,
        mounts: Mounts,
        recording: Recording | None = None,
    ) -> None:
        async with transaction(self.sessions) as session:
            repo = ContainerRepository(session, TenantScope(ctx.project_id))
            sandbox = await sandbox_for_create(
                session, ctx, self.settings, mode=body.sandbox_mode, join=body.sandbox,
                hostname=row.hostname, share_pid=body.share_pid,
            )  # fmt: skip
            if sandbox is not None:
                row.sandbox_uuid = sandbox.uuid
            if mounts:  # the caller's own volumes, else a 404 and nothing made
                await mount_volumes(session, ctx, row, mounts)
            if body.registry:  # the caller's own registry, else a 404 and nothing made
                registries = RegistryRepository(session, TenantScope(ctx.project_id))
                found = await registries.get(body.registry)
                row.spec = replace(row.spec, registry_id=found.uuid)
            repo.add(row)
            attach(session, row)  # its named volumes: in use from now on
            await session.flush()
            await attach_on_create(session, ctx, row, body)  # its ports: IPAM, central
            # The row's addresses (just set) and its host go out in one UPDATE: placing
            # reads and claims host rows only, so nothing of the row need be flushed first.
            with session.no_autoflush:
                choice = await self._place_now(session, row, sandbox, joins=bool(body.sandbox))
            if recording is not None:
                await add_action(session, ctx, recording, row.uuid)
                recording.container_uuid = row.uuid
            # Charged now, as in Zun; the scheduler gives it back if no host takes it.
            charge = quotas.usage_of(row)
            await quotas.reserve(session, self.settings.quota, row.project_id, charge)
            if choice is None:
                wake_schedulers(session)

    async def _place_now(
        self, session: Session, row: ContainerRow, sandbox: SandboxRow | None, *, joins: bool
    ) -> HostChoice | None:
        """The container's host, claimed in its create's transaction when the scheduler can
        tell at once (see Scheduler.place_now); None: it waits for the scheduler loop."""
        if self.placer is None or (joins and sandbox is not None and sandbox.host_uuid is None):
            return None  # a sandbox still pending is placed with all its members, by the loop
        pending = PendingContainer(row.uuid, row.project_id, row.spec, row.sandbox_uuid)
        box = None
        if sandbox is not None:
            box = PendingSandbox(sandbox.uuid, sandbox.host_uuid, sandbox.cpu, sandbox.memory)
        choice = await self.placer.place_now(session, pending, box)
        if choice is not None:
            row.host_uuid, row.revision = choice.host_uuid, choice.usage.revision
            if sandbox is not None and sandbox.host_uuid is None:
                sandbox.host_uuid, sandbox.revision = choice.host_uuid, choice.usage.revision
        return choice

    def _new_row(
        self, ctx: RequestContext, body: ContainerCreate, *, run: bool, legacy_command: bool
    ) -> ContainerRow:
        spec = spec_of(body, self.settings, legacy_command=legacy_command)
        return ContainerRow(
            uuid=new_uuid(),
            project_id=ctx.project_id,
            user_id=ctx.user_id,
            name=body.name or random_name(),
            spec=spec,
            hostname=spec.hostname,
            desired_state=(DesiredState.RUNNING if run else DesiredState.CREATED).value,
            generation=1,
            state_requested_at=utcnow(),
            status=Status.CREATING.value,
            observed_generation=0,
            revision=0,
        )

    # --- desired-state changes -------------------------------------------------------------

    async def start(self, ctx: RequestContext, ident: str) -> ContainerRow:
        def change(row: ContainerRow) -> None:
            row.desired_state = DesiredState.RUNNING.value
            row.state_requested_at = utcnow()
            row.task_state = TaskState.STARTING.value

        return await self._transition(ctx, ident, Action.START, change)

    async def stop(self, ctx: RequestContext, ident: str, timeout: int | None) -> ContainerRow:
        def change(row: ContainerRow) -> None:
            row.desired_state = DesiredState.STOPPED.value
            row.state_requested_at = utcnow()
            row.stop_timeout = timeout
            row.task_state = TaskState.STOPPING.value

        return await self._transition(ctx, ident, Action.STOP, change)

    async def reboot(self, ctx: RequestContext, ident: str, timeout: int | None) -> ContainerRow:
        def change(row: ContainerRow) -> None:
            now = utcnow()
            row.desired_state = DesiredState.RUNNING.value
            row.state_requested_at = now
            row.reboot_requested_at = now
            row.stop_timeout = timeout
            row.status = Status.RESTARTING.value
            row.task_state = TaskState.REBOOTING.value

        return await self._transition(ctx, ident, Action.REBOOT, change)

    async def pause(self, ctx: RequestContext, ident: str) -> ContainerRow:
        def change(row: ContainerRow) -> None:
            row.desired_state = DesiredState.PAUSED.value
            row.state_requested_at = utcnow()
            row.task_state = TaskState.PAUSING.value

        return await self._transition(ctx, ident, Action.PAUSE, change)

    async def unpause(self, ctx: RequestContext, ident: str) -> ContainerRow:
        def change(row: ContainerRow) -> None:
            row.desired_state = DesiredState.RUNNING.value
            row.task_state = TaskState.UNPAUSING.value

        return await self._transition(ctx, ident, Action.UNPAUSE, change)

    async def rebuild(self, ctx: RequestContext, ident: str, image: str | None) -> ContainerRow:
        """Remake the engine container (from `image` if given) under the same uuid and name,
        in the state it was asked to be in; Zun shows Rebuilding until the host reports."""

        def change(row: ContainerRow) -> None:
            if row.host_uuid is None:
                raise Conflict(f"Container {row.uuid} has no host; delete it and create it again.")
            if image is not None:
                row.spec = replace(row.spec, image=image)
            row.rebuild_generation = row.generation + 1  # the generation this change makes
            row.container_id = None  # the old one goes; the agent reports the new one
            row.status = Status.REBUILDING.value
            row.task_state = TaskState.REBUILDING.value

        return await self._transition(ctx, ident, Action.REBUILD, change)

    async def update(
        self, ctx: RequestContext, ident: str, patch: ContainerUpdate, *, all_projects: bool = False
    ) -> ContainerRow:
        """Rename and/or resize; a resize is claimed on the host in the same transaction."""
        memory = int(patch.memory) if patch.memory is not None else None
        check_resources(self.settings, patch.cpu, memory)
        try:
            async with transaction(self.sessions) as session:
                repo = self._repo(session, ctx, all_projects)
                row = await repo.get(ident, for_update=True)
                if patch.name is not None and patch.name != row.name:
                    if await repo.name_taken(row.project_id, patch.name, exclude_uuid=row.uuid):
                        raise ContainerAlreadyExists(name=patch.name)
                    row.name = patch.name
                    await renamed(session, row)
                if patch.auto_heal is not None:
                    row.spec = replace(row.spec, auto_heal=patch.auto_heal)
                if patch.cpu is not None or patch.memory is not None:
                    check_allowed(Action.UPDATE, self._status(row), row.uuid)
                    before = quotas.usage_of(row)
                    await self._resize(session, row, patch.cpu, patch.memory)
                    change = quotas.usage_of(row) - before
                    await quotas.reserve(session, self.settings.quota, row.project_id, change)
        except DuplicateEntry as exc:
            raise ContainerAlreadyExists(name=str(patch.name)) from exc
        return row

    async def _resize(
        self, session: Session, row: ContainerRow, cpu: float | None, memory: Any
    ) -> None:
        new_cpu = float(cpu) if cpu is not None else row.cpu
        new_memory = int(memory) if memory is not None else row.memory
        if row.host_uuid:
            hosts = HostRepository(session)
            host = await hosts.get(row.host_uuid)
            await hosts.release(host.uuid, row.cpu, row.memory)
            ratios = self.directory.ratios
            want = Claim(new_cpu, new_memory, 0, ratios.cpu, ratios.ram, ratios.disk)
            usage = await hosts.claim(host.uuid, want)
            if usage is None:
                raise Conflict(
                    f"Host {host.hostname} has no room for cpu={new_cpu} memory={new_memory}."
                )
            row.revision = usage.revision
        row.spec = replace(row.spec, cpu=new_cpu, memory=new_memory)
        await ContainerRepository(session, TenantScope.all_projects()).bump_generation(row)

    async def delete(
        self, ctx: RequestContext, ident: str, *, force: bool, stop: bool, all_projects: bool
    ) -> None:
        """Mark for deletion (the agent removes it and then the row), or drop an unplaced row."""
        if force:
            policy.authorize(ctx, "container:delete_force")
        action = Action.DELETE_FORCE if force else Action.DELETE_STOP if stop else Action.DELETE
        down = await self.directory.down()
        async with transaction(self.sessions) as session:
            repo = self._repo(session, ctx, all_projects)
            row = await repo.get(ident, for_update=True)
            # Judged by what the caller sees: on a silent host that is Unknown, not the
            # last status its agent reported.
            check_allowed(action, shown_status(self._status(row), row.host_uuid in down), row.uuid)
            if row.host_uuid is None:
                await repo.delete(row)
                await retire_if_empty(session, row.sandbox_uuid)
                if not is_unplaceable(row):  # an unplaceable container was never charged
                    await quotas.release(session, row.project_id, quotas.usage_of(row))
                return
            row.desired_state = DesiredState.DELETED.value
            row.status = Status.DELETING.value
            row.task_state = TaskState.DELETING.value
            await repo.bump_generation(row)
            # Its ports stay until its agent reports it gone (apply_reports moves its networks).
            hosts = HostRepository(session)
            row.revision = await hosts.bump_revision(row.host_uuid, network=False)

    async def _transition(
        self,
        ctx: RequestContext,
        ident: str,
        action: Action,
        change: Callable[[ContainerRow], None],
    ) -> ContainerRow:
        async with transaction(self.sessions) as session:
            repo = self._repo(session, ctx, False)
            row = await repo.get(ident, for_update=True)
            check_allowed(action, self._status(row), row.uuid)
            change(row)
            await repo.bump_generation(row)
            if row.host_uuid:  # a status, a rebuild: its ports stay as they are
                hosts = HostRepository(session)
                row.revision = await hosts.bump_revision(row.host_uuid, network=False)
        return row

    # --- the target of a host call (services/container_operations.py, containerfiles.py) --

    async def engine_target(
        self, ctx: RequestContext, ident: str, action: Action
    ) -> tuple[ContainerRow, HostRow]:
        """The container (allowed `action` in its status) and its up host, for a host call."""
        async with self.sessions() as session:
            row = await self._repo(session, ctx, False).get(ident)
            check_allowed(action, self._status(row), row.uuid)
            if row.host_uuid is None or row.container_id is None:
                raise Conflict(f"Container {row.uuid} has no engine container yet.")
            host = await HostRepository(session).get(row.host_uuid)
        if not is_host_up(host, self.settings.scheduler):
            raise HostUnavailable(host=host.hostname, uuid=row.uuid)
        return row, host

    # --- helpers ---------------------------------------------------------------------------

    def _repo(
        self, session: Session, ctx: RequestContext, all_projects: bool
    ) -> ContainerRepository:
        return ContainerRepository(session, self._scope(ctx, all_projects))

    @staticmethod
    def _scope(ctx: RequestContext, all_projects: bool) -> TenantScope:
        """The scope of a single lookup (get, shown)."""
        # Zun: an admin sees every project's object on single lookups and with all_projects.
        return TenantScope.all_projects() if ctx.is_admin else TenantScope.of(ctx, all_projects)

    def _status(self, row: ContainerRow) -> Status:
        return Status(row.status)
