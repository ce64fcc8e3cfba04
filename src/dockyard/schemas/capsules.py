"""Zun capsule templates (POST /v1/capsules) made into a typed, engine-neutral spec: the checks
that span keys (versions, names, volumes, mounts, ports) and the assembly; capsule_template.py
reads the template key by key first."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import Any

from dockyard.domain.capsules import MAX_CONTAINER_NAME, member_container_name
from dockyard.errors import InvalidParamInVersion, InvalidValue
from dockyard.schemas.capsule_template import ContainerIn, TemplateIn, VolumeIn, read_template

Version = tuple[int, int]

# Docker's spelling of each Kubernetes-style policy. Retries are 0 throughout: for docker's
# on-failure, 0 means "retry without limit", which is what Kubernetes' OnFailure does.
RESTART_POLICIES: dict[str, str] = {"Always": "always", "OnFailure": "on-failure", "Never": "no"}
KEEP_NAMED = "a named volume outlives the capsule; delete it with DELETE /v1/volumes/{id}"
NEW_GOES = (
    "a new volume goes with the capsule; to keep the data, create a named volume "
    "(POST /v1/volumes) and give its volumeID"
)


@dataclass(frozen=True)
class MemberSpec:
    """One container or init container of a capsule."""

    name: str
    image: str
    command: list[str] | None
    environment: dict[str, str]
    workdir: str | None
    image_pull_policy: str | None
    cpu: float | None
    memory: int | None
    ports: list[tuple[int, str]]
    volume_mounts: list[tuple[str, str, bool]]
    tty: bool
    stdin: bool


@dataclass(frozen=True)
class CapsuleSpec:
    """A validated capsule: what the services layer needs to create it, nothing engine-specific."""

    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    restart_policy: tuple[str, int]
    volumes: list[str]
    init_containers: list[MemberSpec]
    containers: list[MemberSpec]
    availability_zone: str | None
    cpu: float
    memory: int
    # Template volume name → a project's named volume (name or uuid) it stands for.
    named_volumes: dict[str, str] = field(default_factory=dict)
    # The template's top-level `nets`, as on a container create ({network|port,
    # v4-fixed-ip}); the services check them (none: the project's default network).
    nets: list[dict[str, Any]] = field(default_factory=list)


# --- checks across fields ------------------------------------------------------------------

_Member = tuple[str, str, ContainerIn]  # (template path, resolved name, container)


def _check_versions(t: TemplateIn, members: list[_Member], version: Version) -> None:
    wanted: list[tuple[str, Version]] = []
    if "annotations" in t.metadata.model_fields_set:
        wanted.append(("metadata.annotations", (1, 38)))
    if "init_containers" in t.spec.model_fields_set:
        wanted.append(("spec.initContainers", (1, 34)))
    for path, _, c in members:
        wanted += [(f"{path}.ports", (1, 35))] if "ports" in c.model_fields_set else []
        wanted += [(f"{path}.{f}", (1, 37)) for f in ("stdin", "tty") if f in c.model_fields_set]
    for param, since in wanted:
        if version < since:
            raise InvalidParamInVersion(param=param, req_version=f"{version[0]}.{version[1]}")


def _restart_policy(t: TemplateIn, version: Version) -> tuple[str, int]:
    if t.restart_policy is not None and version >= (1, 16):
        raise InvalidParamInVersion(
            f"Invalid param restartPolicy (top level) because current request version is "
            f"{version[0]}.{version[1]}; from 1.16 it belongs in spec.restartPolicy."
        )
    if t.restart_policy is not None and t.spec.restart_policy is not None:
        raise InvalidValue("restartPolicy: give it at the top level or in spec, not both")
    return RESTART_POLICIES[t.restart_policy or t.spec.restart_policy or "Always"], 0


def _volume_names(volumes: list[VolumeIn]) -> tuple[list[str], dict[str, str]]:
    """The capsule's own volumes (emptyDir, or a new `cinder.size` one: both go with the
    capsule) and the named volumes it mounts (template name → the volume's name or uuid)."""
    names: list[str] = []
    named: dict[str, str] = {}
    for index, volume in enumerate(volumes):
        path = f"spec.volumes[{index}]"
        if volume.name in names or volume.name in named:
            raise InvalidValue(f"{path}.name: duplicate volume name {volume.name!r}")
        cinder = volume.cinder
        if cinder is None:
            names.append(volume.name)
            continue
        if (cinder.volume_id is None) == (cinder.size is None):
            raise InvalidValue(f"{path}.cinder: give volumeID (a named volume) or size (GiB)")
        if cinder.volume_id is not None and cinder.auto_remove:
            raise InvalidValue(f"{path}.cinder.autoRemove: {KEEP_NAMED}")
        if cinder.size is not None and cinder.auto_remove is False:
            raise InvalidValue(f"{path}.cinder.autoRemove: {NEW_GOES}")
        if cinder.volume_id is not None:
            named[volume.name] = cinder.volume_id
        else:
            names.append(volume.name)
    return names, named


def _members(t: TemplateIn) -> list[_Member]:
    """Init containers first, in template order; unnamed ones get '<capsule>-<kind>-<index>'."""
    members: list[_Member] = []
    groups = (("initContainers", "init", t.spec.init_containers),
              ("containers", "container", t.spec.containers))  # fmt: skip
    for key, kind, items in groups:
        for index, c in enumerate(items):
            name = c.name or f"{t.metadata.name}-{kind}-{index}"
            members.append((f"spec.{key}[{index}]", name, c))
    return members


def _check_names(capsule: str, members: list[_Member]) -> None:
    seen: dict[str, str] = {}
    for path, name, _ in members:
        if name in seen:
            raise InvalidValue(f"{path}.name: duplicate container name {name!r} (see {seen[name]})")
        seen[name] = path
        # A member's container is named after the capsule too; the whole must fit the column.
        full = member_container_name(capsule, name)
        if len(full) > MAX_CONTAINER_NAME:
            raise InvalidValue(
                f"{path}.name: the container name {full[:40]!r}… would be {len(full)} "
                f"characters, over {MAX_CONTAINER_NAME}; shorten the capsule or container name"
            )


def _check_mounts(members: list[_Member], volumes: list[str]) -> None:
    for path, _, c in members:
        targets: set[str] = set()
        for index, mount in enumerate(c.volume_mounts):
            where = f"{path}.volumeMounts[{index}]"
            if mount.name not in volumes:
                raise InvalidValue(f"{where}.name: volume {mount.name!r} is not in spec.volumes")
            target = posixpath.normpath(mount.mount_path)
            if target in targets:
                raise InvalidValue(f"{where}.mountPath: {target!r} is mounted twice")
            targets.add(target)


def _check_ports(members: list[_Member]) -> None:
    # Containers share one network namespace, so two cannot listen on one port; init containers
    # have finished before the containers start.
    owner: dict[tuple[int, str], str] = {}
    for path, _, c in members:
        if not path.startswith("spec.containers"):
            continue
        for index, port in enumerate(c.ports):
            key = (port.container_port, port.protocol)
            if key in owner:
                raise InvalidValue(
                    f"{path}.ports[{index}]: port {key[0]}/{key[1]} is already used by {owner[key]}"
                )
            owner[key] = f"{path}.ports[{index}]"


# --- assembly ------------------------------------------------------------------------------


def _member(name: str, c: ContainerIn) -> MemberSpec:
    argv = (c.command or []) + (c.args or [])
    requests = c.resources.requests
    return MemberSpec(
        name=name,
        image=c.image,
        command=argv or None,
        environment=dict(c.env),
        workdir=c.work_dir,
        image_pull_policy=c.image_pull_policy,
        cpu=None if requests.cpu is None else float(requests.cpu),
        memory=requests.memory,
        ports=[(p.container_port, p.protocol) for p in c.ports],
        volume_mounts=[(m.name, m.mount_path, m.read_only) for m in c.volume_mounts],
        tty=c.tty,
        stdin=c.stdin,
    )


def parse_template(raw: object, version: tuple[int, int]) -> CapsuleSpec:
    """Validate a Zun capsule template (an object or a JSON string) at an API microversion.

    Raises SchemaValidationError for a malformed template, InvalidParamInVersion for a key
    newer than `version`, InvalidValue for a well-formed template that cannot be honoured
    (duplicate names, undeclared volumes, a cinder volume both named and new). Where Zun's
    reference is silent the Kubernetes behaviour applies: `args` alone replace the image's
    command, an empty command+args means the image default, OnFailure retries without
    limit, the capsule requests max(sum of containers, each init container) (cpu to the
    millicore; zero when nothing is requested: the caller applies its defaults), containers
    may not share a port/protocol or mount twice on one path, and `hostPort` is checked but,
    as in Zun, unused.
    Below 1.16 restartPolicy may sit at the top level or in spec, not both.
    """
    t = read_template(raw)
    members = _members(t)
    _check_versions(t, members, version)
    restart_policy = _restart_policy(t, version)
    volumes, named = _volume_names(t.spec.volumes)
    _check_names(t.metadata.name, members)
    _check_mounts(members, [*volumes, *named])
    _check_ports(members)
    inits = [_member(n, c) for p, n, c in members if p.startswith("spec.initContainers")]
    containers = [_member(n, c) for p, n, c in members if p.startswith("spec.containers")]
    return CapsuleSpec(
        name=t.metadata.name,
        labels=dict(t.metadata.labels),
        annotations=dict(t.metadata.annotations),
        restart_policy=restart_policy,
        volumes=volumes,
        init_containers=inits,
        containers=containers,
        availability_zone=t.availability_zone,
        cpu=round(max([sum(m.cpu or 0.0 for m in containers), *(m.cpu or 0.0 for m in inits)]), 3),
        memory=max([sum(m.memory or 0 for m in containers), *(m.memory or 0 for m in inits)]),
        named_volumes=named,
        nets=[dict(entry) for entry in t.nets],
    )
