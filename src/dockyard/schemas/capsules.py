"""Zun capsule templates (POST /v1/capsules) parsed into a typed, engine-neutral spec."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from dockyard.domain.capsules import MAX_CONTAINER_NAME, member_container_name
from dockyard.errors import InvalidParamInVersion, InvalidValue, SchemaValidationError
from dockyard.schemas.containers import NAME_PATTERN, PULL_POLICIES, ImageRef, parse_memory
from dockyard.schemas.problems import problem_text

Version = tuple[int, int]
Name = Annotated[str, StringConstraints(min_length=2, max_length=255, pattern=NAME_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=255)]

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


# --- wire models ---------------------------------------------------------------------------


def _to_cpu(value: object) -> object:
    # Numbers as in Zun; Kubernetes' strings ("0.5", "500m") too, since templates are k8s-like.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str):
        try:
            return int(value[:-1]) / 1000 if value.endswith("m") else float(value)
        except ValueError:
            raise ValueError(f"invalid cpu {value!r}: use cores, e.g. 0.5 or '500m'") from None
    return value


def _to_mib(value: object) -> object:
    # MiB as in Zun ("512M", "1G"); Kubernetes' binary suffixes ("512Mi", "1Gi") mean the same.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, str):
        return parse_memory(value[:-1] if value.endswith(("Mi", "Gi")) else value)
    return value


Cpu = Annotated[float, BeforeValidator(_to_cpu), Field(gt=0, allow_inf_nan=False)]
Memory = Annotated[int, BeforeValidator(_to_mib), Field(gt=0)]
Port = Annotated[int, Field(ge=1, le=65535)]
Policy = Literal["Always", "OnFailure", "Never"]


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"must be an absolute path (got {value!r})")
    return value


AbsolutePath = Annotated[str, StringConstraints(max_length=255), AfterValidator(_absolute)]


class _Wire(BaseModel):
    # Strict: Zun's JSON schema does not coerce "80" to 80 or 1 to "1" either.
    model_config = ConfigDict(extra="forbid", strict=True)


class _Requests(_Wire):
    cpu: Cpu | None = None
    memory: Memory | None = None


class _Resources(_Wire):
    requests: _Requests = Field(default_factory=_Requests)


class _PortIn(_Wire):
    name: Text | None = None
    container_port: Port = Field(alias="containerPort")
    host_port: Port | None = Field(None, alias="hostPort")
    protocol: str = "tcp"

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value.lower() not in ("tcp", "udp"):
            raise ValueError(f"must be TCP or UDP (got {value!r})")
        return value.lower()


class _MountIn(_Wire):
    name: str
    mount_path: AbsolutePath = Field(alias="mountPath")
    read_only: bool = Field(False, alias="readOnly")

    @field_validator("mount_path")
    @classmethod
    def _mount_path(cls, value: str) -> str:
        if posixpath.normpath(value) == "/":
            raise ValueError("cannot mount a volume over '/'")
        return value


class _ContainerIn(_Wire):
    name: Name | None = None
    image: ImageRef
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    work_dir: AbsolutePath | None = Field(None, alias="workDir")
    image_pull_policy: str | None = Field(None, alias="imagePullPolicy")
    resources: _Resources = Field(default_factory=_Resources)
    ports: list[_PortIn] = Field(default_factory=list)
    volume_mounts: list[_MountIn] = Field(default_factory=list, alias="volumeMounts")
    stdin: bool = False
    tty: bool = False

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: object) -> object:
        if isinstance(value, list):
            raise ValueError("must be a mapping NAME: value (Zun format), not a list")
        for key in value if isinstance(value, dict) else ():
            if isinstance(key, str) and (not key or "=" in key):
                raise ValueError(f"invalid variable name {key!r}")
        return value

    @field_validator("image_pull_policy")
    @classmethod
    def _pull_policy(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in PULL_POLICIES:
            raise ValueError(f"must be Always, IfNotPresent or Never (got {value!r})")
        return None if value is None else value.lower()


class _CinderIn(_Wire):
    """Zun's Cinder volume, kept locally: `volumeID` names a project's named volume
    (/v1/volumes), `size` (GiB) makes a new one that goes with the capsule."""

    volume_id: Text | None = Field(None, alias="volumeID")
    size: Annotated[int, Field(ge=1, le=1024)] | None = None
    auto_remove: bool | None = Field(None, alias="autoRemove")


class _VolumeIn(_Wire):
    name: Name
    empty_dir: _Wire | None = Field(None, alias="emptyDir")  # "emptyDir: {}"; no options
    cinder: _CinderIn | None = None


class _SpecIn(_Wire):
    containers: list[_ContainerIn] = Field(min_length=1)
    init_containers: list[_ContainerIn] = Field(default_factory=list, alias="initContainers")
    volumes: list[_VolumeIn] = Field(default_factory=list)
    restart_policy: Policy | None = Field(None, alias="restartPolicy")


class _MetadataIn(_Wire):
    name: Name
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class _TemplateIn(_Wire):
    kind: Literal["capsule", "Capsule"]
    capsule_version: Literal["beta", "Beta"] | None = Field(None, alias="capsuleVersion")
    metadata: _MetadataIn
    spec: _SpecIn
    availability_zone: Text | None = Field(None, alias="availabilityZone")
    restart_policy: Policy | None = Field(None, alias="restartPolicy")


# --- error messages ------------------------------------------------------------------------

_FRIENDLY = {
    "missing": "required",
    "extra_forbidden": "unknown key (additional properties are not allowed)",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "list_type": "must be a list",
    "string_type": "must be a string",
    "bool_type": "must be a boolean",
    "int_type": "must be an integer",
    "float_type": "must be a number",
}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "template"


def _describe(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "value_error":
        text = problem_text(error).rstrip(".")
    else:
        text = _FRIENDLY.get(kind, error["msg"])
    got = error["input"]
    if kind not in ("missing", "extra_forbidden", "value_error") and isinstance(
        got, str | int | float | bool | None
    ):
        text += f" (got {repr(got)[:60]})"
    return f"{_path(error['loc'])}: {text}"


def _load(raw: object) -> dict[str, Any]:
    if isinstance(raw, str):
        try:  # NaN/Infinity are not JSON, whatever Python's json module thinks
            raw = json.loads(raw, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise SchemaValidationError(f"template: invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SchemaValidationError(f"template: must be an object (got {type(raw).__name__})")
    return raw


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


# --- checks across fields ------------------------------------------------------------------

_Member = tuple[str, str, _ContainerIn]  # (template path, resolved name, container)


def _check_versions(t: _TemplateIn, members: list[_Member], version: Version) -> None:
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


def _restart_policy(t: _TemplateIn, version: Version) -> tuple[str, int]:
    if t.restart_policy is not None and version >= (1, 16):
        raise InvalidParamInVersion(
            f"Invalid param restartPolicy (top level) because current request version is "
            f"{version[0]}.{version[1]}; from 1.16 it belongs in spec.restartPolicy."
        )
    if t.restart_policy is not None and t.spec.restart_policy is not None:
        raise InvalidValue("restartPolicy: give it at the top level or in spec, not both")
    return RESTART_POLICIES[t.restart_policy or t.spec.restart_policy or "Always"], 0


def _volume_names(volumes: list[_VolumeIn]) -> tuple[list[str], dict[str, str]]:
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


def _members(t: _TemplateIn) -> list[_Member]:
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


def _member(name: str, c: _ContainerIn) -> MemberSpec:
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


def _validate(data: dict[str, Any]) -> _TemplateIn:
    try:
        return _TemplateIn.model_validate(data)
    except ValidationError as exc:
        details = exc.errors(include_url=False)
        raise SchemaValidationError("; ".join(_describe(e) for e in details)) from None


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
    t = _validate(_load(raw))
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
    )
