"""A project's named volumes (/v1/volumes, Dockyard's extension) and Zun's `mounts`.

Zun keeps volumes in Cinder; Dockyard keeps them on the container's host, as engine named
volumes labelled io.dockyard.*, behind the VolumeBackend port so that Cinder can be added.
A named volume is created on one host and pins every container that mounts it there; it is
in use while a container row mounts it (volume_attachments) and cannot be deleted then. A
`{size, destination}` mount makes a new volume for that container alone, which the engine
removes with the container; a `type: bind` mount injects a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.volumes import VolumeRepository
from dockyard.db.tables import ContainerRow, new_uuid
from dockyard.db.volumes_tables import VolumeAttachmentRow, VolumeRow
from dockyard.domain.capsules import volume_engine_name
from dockyard.domain.containerspec import ContainerSpec, InjectedFile, VolumeMount
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import (
    Conflict,
    DuplicateEntry,
    HostUnavailable,
    ResourceExists,
    VolumeInUse,
)
from dockyard.scheduler.filters import PlacementRequest
from dockyard.schemas.volumes import MountRequest, VolumeCreate
from dockyard.services import policy
from dockyard.services.hostcalls import HostCalls
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.scheduling import is_host_up
from dockyard.settings import Settings


class VolumeBackend(Protocol):
    """Where a named volume's data lives.

    `local` (LocalVolumes): an engine volume on one host, made by the engine when the first
    container mounts it, so `place` picks that host and containers follow it. A Cinder
    backend would `place` nowhere (None: any host can attach it), create the Cinder volume
    in `prepare` and delete it in `remove`; the agent would then need a mount kind that
    attaches the block device (os-brick) and bind-mounts its filesystem, keyed by
    VolumeMount.volume_uuid, instead of the engine volume `name`.
    """

    name: str

    async def place(self, body: VolumeCreate) -> str | None:
        """The host uuid the volume will live on (None: not tied to a host)."""
        ...

    def engine_name(self, volume_uuid: str) -> str: ...

    async def remove(self, session: Session, row: VolumeRow) -> None:
        """Remove the volume's data; HostUnavailable (nothing removed) if it cannot now."""
        ...


@dataclass
class LocalVolumes:
    """Engine named volumes on the container's host (see VolumeBackend)."""

    directory: HostDirectory
    engine: HostCalls  # removes the engine volume on its host
    settings: Settings
    name: str = "local"

    async def place(self, body: VolumeCreate) -> str | None:
        await self.directory.fresh()
        want = PlacementRequest(
            cpu=0.0, memory=0, availability_zone=body.availability_zone, requested_host=body.host
        )
        host = self.directory.best(want)
        if host is None:
            raise HostUnavailable("There are not enough hosts available for the volume.")
        return host.uuid

    def engine_name(self, volume_uuid: str) -> str:
        return f"dockyard-vol-{volume_uuid}"

    async def remove(self, session: Session, row: VolumeRow) -> None:
        if row.host_uuid is None:  # its host was removed, and its data with it
            return
        host = await HostRepository(session).get(row.host_uuid)
        if not is_host_up(host, self.settings.scheduler):
            raise HostUnavailable(f"Host {host.hostname} of volume {row.name} is not up.")
        await self.engine.remove_volume(host, row.engine_name)


def scope_of(ctx: RequestContext, all_projects: bool = False) -> TenantScope:
    # As for containers: an administrator reaches any project's volume by uuid or name.
    return TenantScope.all_projects() if ctx.is_admin else TenantScope.of(ctx, all_projects)


@dataclass
class VolumeService:
    sessions: Sessions
    backend: VolumeBackend

    async def create(self, ctx: RequestContext, body: VolumeCreate) -> VolumeRow:
        """Record a named volume on the host the backend picks; its data appears there
        when the first container mounts it."""
        if body.host is not None:
            policy.authorize(ctx, "volume:create:host")
        host_uuid = await self.backend.place(body)
        uuid = new_uuid()
        row = VolumeRow(
            uuid=uuid, project_id=ctx.project_id, user_id=ctx.user_id, name=body.name,
            size=body.size, backend=self.backend.name, engine_name=self.backend.engine_name(uuid),
            host_uuid=host_uuid,
        )  # fmt: skip
        try:
            async with transaction(self.sessions) as session:
                repo = VolumeRepository(session, TenantScope(ctx.project_id))
                if await repo.find(body.name) is not None:
                    raise ResourceExists(f"A volume named {body.name} already exists.")
                repo.add(row)
        except DuplicateEntry as exc:  # a concurrent create took the name first
            raise ResourceExists(f"A volume named {body.name} already exists.") from exc
        return row

    async def get(self, ctx: RequestContext, ident: str) -> tuple[VolumeRow, list[str]]:
        """The volume and the containers that mount it; 404 for another project's."""
        async with self.sessions() as session:
            repo = VolumeRepository(session, scope_of(ctx))
            row = await repo.get(ident)
            return row, await repo.users(row.uuid)

    async def list(
        self, ctx: RequestContext, *, limit: int, marker: str | None, sort_key: str,
        sort_dir: str, all_projects: bool,
    ) -> list[tuple[VolumeRow, list[str]]]:  # fmt: skip
        async with self.sessions() as session:
            repo = VolumeRepository(session, TenantScope.of(ctx, all_projects))
            rows = await repo.list(limit=limit, marker=marker, sort_key=sort_key,
                                   sort_dir=sort_dir)  # fmt: skip
            users = await repo.users_of([r.uuid for r in rows])
            return [(r, users.get(r.uuid, [])) for r in rows]

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        """Delete an unused volume and its data; 409 while a container mounts it.

        The row is locked while the backend removes the data, so no container can start
        mounting it meanwhile (its attachment waits for the lock, then finds no volume).
        """
        async with transaction(self.sessions) as session:
            repo = VolumeRepository(session, scope_of(ctx))
            row = await repo.get(ident, for_update=True)
            users = await repo.users(row.uuid)
            if users:
                raise VolumeInUse(ident=row.name, containers=", ".join(users))
            await self.backend.remove(session, row)
            await repo.delete(row)


@dataclass(frozen=True)
class ResolvedMounts:
    """What a create body's mounts become in the container's spec."""

    volume_mounts: list[VolumeMount]
    injected_files: list[InjectedFile]
    volume_host: str | None


async def resolve_mounts(
    session: Session, ctx: RequestContext, mounts: Sequence[MountRequest]
) -> ResolvedMounts:
    """The caller's volumes by name or uuid (another project's is a 404, as in Zun), all
    on one host; new volumes and files as they are."""
    repo = VolumeRepository(session, TenantScope(ctx.project_id))
    volumes: list[VolumeMount] = []
    files: list[InjectedFile] = []
    hosts: set[str] = set()
    for mount in mounts:
        if mount.content is not None:
            files.append(InjectedFile(mount.destination, mount.content))
        elif mount.source is None:
            volumes.append(VolumeMount("", mount.destination, size=mount.size))
        else:
            row = await repo.get(mount.source, for_update=True)
            if row.host_uuid is None:
                raise Conflict(f"Volume {row.name} was on a host that is gone; delete it.")
            hosts.add(row.host_uuid)
            volumes.append(VolumeMount(row.engine_name, mount.destination, volume_uuid=row.uuid))
    if len(hosts) > 1:
        raise Conflict("The volumes are on different hosts; a container can mount only one's.")
    named = [m.volume_uuid for m in volumes if m.volume_uuid is not None]
    if len(set(named)) != len(named):
        raise Conflict("A volume can be mounted only once in a container.")
    return ResolvedMounts(volumes, files, next(iter(hosts), None))


async def mount_volumes(
    session: Session, ctx: RequestContext, row: ContainerRow, mounts: Sequence[MountRequest]
) -> None:
    """Put the mounts into the new container's spec (`attach` then records it as a user
    of its named volumes, once the row is in the session)."""
    resolved = await resolve_mounts(session, ctx, mounts)
    row.spec = replace(
        row.spec, volume_mounts=[*row.spec.volume_mounts, *resolved.volume_mounts],
        injected_files=resolved.injected_files, volume_host=resolved.volume_host,
    )  # fmt: skip


async def named_volumes(
    session: Session, ctx: RequestContext, named: dict[str, str]
) -> tuple[dict[str, VolumeRow], str | None]:
    """A capsule's named volumes (template name → row, the caller's own, else 404) and the
    one host they are on."""
    repo = VolumeRepository(session, TenantScope(ctx.project_id))
    rows = {name: await repo.get(ident, for_update=True) for name, ident in named.items()}
    hosts = {row.host_uuid for row in rows.values()}
    if None in hosts:
        raise Conflict("A volume was on a host that is gone; delete it.")
    if len(hosts) > 1:
        raise Conflict("The capsule's volumes are on different hosts; use one host's.")
    return rows, next((h for h in hosts if h is not None), None)


def with_named_volumes(
    spec: ContainerSpec, capsule_uuid: str, named: dict[str, VolumeRow], host: str | None
) -> ContainerSpec:
    """A capsule member's spec with its named volumes' mounts pointing at them (they were
    written as the capsule's own volumes), pinned to their host."""
    if not named:
        return spec
    by_engine = {volume_engine_name(capsule_uuid, name): row for name, row in named.items()}
    mounts = [
        replace(m, name=row.engine_name, volume_uuid=row.uuid)
        if (row := by_engine.get(m.name)) is not None
        else m
        for m in spec.volume_mounts
    ]
    return replace(spec, volume_mounts=mounts, volume_host=host)


def attach(session: Session, row: ContainerRow) -> None:
    """Record the container as a user of each named volume its spec mounts; after the
    container's row is added (a query in between autoflushes, and the attachment refers
    to the row)."""
    seen: set[str] = set()
    for mount in row.spec.volume_mounts:
        if mount.volume_uuid is None or mount.volume_uuid in seen:
            continue
        seen.add(mount.volume_uuid)
        session.add(
            VolumeAttachmentRow(
                volume_uuid=mount.volume_uuid, container_uuid=row.uuid,
                destination=mount.destination,
            )
        )  # fmt: skip
