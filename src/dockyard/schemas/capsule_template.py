"""The capsule template's wire models: what a POST /v1/capsules template may say, key by key,
and why a malformed one is refused. Kept apart from capsules.py, whose checks span keys and
assemble the CapsuleSpec, because this half changes with Zun's schema and that one with what
a capsule means."""

from __future__ import annotations

import json
import posixpath
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

from dockyard.errors import SchemaValidationError
from dockyard.schemas.containers import PULL_POLICIES, ImageRef, Name, parse_memory
from dockyard.schemas.problems import problem_text

Text = Annotated[str, StringConstraints(min_length=1, max_length=255)]


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


class RequestsIn(_Wire):
    cpu: Cpu | None = None
    memory: Memory | None = None


class ResourcesIn(_Wire):
    requests: RequestsIn = Field(default_factory=RequestsIn)


class PortIn(_Wire):
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


class MountIn(_Wire):
    name: str
    mount_path: AbsolutePath = Field(alias="mountPath")
    read_only: bool = Field(False, alias="readOnly")

    @field_validator("mount_path")
    @classmethod
    def _mount_path(cls, value: str) -> str:
        if posixpath.normpath(value) == "/":
            raise ValueError("cannot mount a volume over '/'")
        return value


class ContainerIn(_Wire):
    name: Name | None = None
    image: ImageRef
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    work_dir: AbsolutePath | None = Field(None, alias="workDir")
    image_pull_policy: str | None = Field(None, alias="imagePullPolicy")
    resources: ResourcesIn = Field(default_factory=ResourcesIn)
    ports: list[PortIn] = Field(default_factory=list)
    volume_mounts: list[MountIn] = Field(default_factory=list, alias="volumeMounts")
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


class CinderIn(_Wire):
    """Zun's Cinder volume, kept locally: `volumeID` names a project's named volume
    (/v1/volumes), `size` (GiB) makes a new one that goes with the capsule."""

    volume_id: Text | None = Field(None, alias="volumeID")
    size: Annotated[int, Field(ge=1, le=1024)] | None = None
    auto_remove: bool | None = Field(None, alias="autoRemove")


class VolumeIn(_Wire):
    name: Name
    empty_dir: _Wire | None = Field(None, alias="emptyDir")  # "emptyDir: {}"; no options
    cinder: CinderIn | None = None


class SpecIn(_Wire):
    containers: list[ContainerIn] = Field(min_length=1)
    init_containers: list[ContainerIn] = Field(default_factory=list, alias="initContainers")
    volumes: list[VolumeIn] = Field(default_factory=list)
    restart_policy: Policy | None = Field(None, alias="restartPolicy")


class MetadataIn(_Wire):
    name: Name
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class TemplateIn(_Wire):
    kind: Literal["capsule", "Capsule"]
    capsule_version: Literal["beta", "Beta"] | None = Field(None, alias="capsuleVersion")
    metadata: MetadataIn
    spec: SpecIn
    availability_zone: Text | None = Field(None, alias="availabilityZone")
    restart_policy: Policy | None = Field(None, alias="restartPolicy")
    nets: list[dict[str, Any]] = Field(default_factory=list)  # Zun's container `nets`


# Why a template was refused, one phrase a key, worded for people rather than pydantic.
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


def read_template(raw: object) -> TemplateIn:
    """The template (an object or a JSON string) in its wire models; SchemaValidationError
    naming every refused key, by its path in the template, when it is malformed."""
    data = _load(raw)
    try:
        return TemplateIn.model_validate(data)
    except ValidationError as exc:
        details = exc.errors(include_url=False)
        raise SchemaValidationError("; ".join(_describe(e) for e in details)) from None
