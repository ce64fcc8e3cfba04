"""Profile and policy types of the clustering API: their names, versions and property schemas."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dockyard.errors import DockyardError
from dockyard.schemas.capsules import parse_template
from dockyard.schemas.containers import ContainerCreate, ImageRef
from dockyard.schemas.problems import problems_line


class _Props(BaseModel):
    # Unknown properties are refused, as Senlin's schema does ("Unrecognizable spec item").
    model_config = ConfigDict(extra="forbid")


class SpecError(ValueError):
    """A spec the type refuses; the text is the reason for the 400."""


# --- profiles ---------------------------------------------------------------------------------


class DockerProfile(_Props):
    """container.dockerinc.docker 1.0, as Senlin defined it (senlin/profiles/container)."""

    image: ImageRef
    name: str | None = None
    command: str | None = None
    host_node: str | None = None  # a Dockyard host (name or uuid)
    host_cluster: str | None = None  # an availability zone, or a host label key=value
    port: int = Field(2375, ge=1, le=65535)  # accepted: the engine is reached by the agent
    context: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _placement(self) -> DockerProfile:
        if not (self.host_node or self.host_cluster):
            raise ValueError("Either 'host_node' or 'host_cluster' must be specified.")
        return self


class DockyardProfile(ContainerCreate):
    """container.dockyard 1.0: a Zun container's create fields; `name` is the member's stem."""


# The capsule microversion a profile's template is read at (Zun's newest, as Dockyard serves).
CAPSULE_TEMPLATE_VERSION = (1, 40)


class DockyardCapsuleProfile(_Props):
    """container.dockyard 1.0 whose members are capsules: `template` is a Zun capsule template
    (kind capsule; its metadata.name is replaced by each member's name)."""

    template: dict[str, Any]

    @field_validator("template")
    @classmethod
    def _parses(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            parse_template(value, CAPSULE_TEMPLATE_VERSION)
        except DockyardError as exc:
            raise ValueError(f"invalid capsule template: {exc.text}") from None
        return value


# A profile type whose properties take another shape when one key is present.
PROFILE_VARIANTS: dict[str, tuple[str, type[BaseModel]]] = {
    "container.dockyard-1.0": ("template", DockyardCapsuleProfile),
}

PROFILE_TYPES: dict[str, type[BaseModel]] = {
    "container.dockerinc.docker-1.0": DockerProfile,
    "container.dockyard-1.0": DockyardProfile,
}
PROFILE_UPDATABLE = {"container.dockerinc.docker-1.0": {"name"}}


# --- policies ---------------------------------------------------------------------------------


class Adjustment(_Props):
    type: Literal["EXACT_CAPACITY", "CHANGE_IN_CAPACITY", "CHANGE_IN_PERCENTAGE"] = (
        "CHANGE_IN_CAPACITY"
    )
    number: float = 1
    min_step: int = Field(1, ge=0)
    best_effort: bool = False
    cooldown: int = Field(0, ge=0)


class ScalingPolicy(_Props):
    event: Literal["CLUSTER_SCALE_IN", "CLUSTER_SCALE_OUT"]
    adjustment: Adjustment = Field(default_factory=Adjustment)

    @field_validator("adjustment")
    @classmethod
    def _positive(cls, value: Adjustment) -> Adjustment:
        if value.type != "EXACT_CAPACITY" and value.number <= 0:
            raise ValueError("the number of an adjustment must be positive")
        return value


class DeletionPolicy(_Props):
    criteria: Literal["OLDEST_FIRST", "YOUNGEST_FIRST", "OLDEST_PROFILE_FIRST", "RANDOM"] = "RANDOM"
    destroy_after_deletion: bool = True
    grace_period: int = Field(0, ge=0)
    reduce_desired_capacity: bool = True
    hooks: dict[str, Any] = Field(default_factory=dict)


class Zone(_Props):
    name: str = Field(min_length=1)
    weight: int = Field(100, ge=0)


class ZonePlacementPolicy(_Props):
    zones: list[Zone] = Field(min_length=1)


class ServerGroup(_Props):
    policies: Literal["anti-affinity"] = "anti-affinity"
    name: str | None = None


class AffinityPolicy(_Props):
    """senlin.policy.affinity with the anti-affinity server-group policy: spread over hosts."""

    servergroup: ServerGroup = Field(default_factory=ServerGroup)
    availability_zone: str | None = None
    enable_drs_extension: bool = False


class LowCpuPlacementPolicy(_Props):
    """Dockyard's own: new members go to the hosts with the lowest CPU use."""


# The poll URL of NODE_STATUS_POLL_URL. Its host is the member's own address and nothing else:
# the member's host makes the GET from inside the member's network namespace, and a URL naming
# any other host (the host itself, a metadata service, another network) would let a tenant
# make the host fetch it. Senlin's {nova_server_ip} is accepted for {ip}; {nodename} may
# appear in the path.
POLL_URL = re.compile(
    # the path: printable ASCII without spaces or a fragment (it goes into the request line)
    r"http://\{(?:ip|nova_server_ip)\}(?::(?P<port>[0-9]{1,5}))?(?P<path>/[!-\"$-~]*)?"
)
POLL_URL_FORM = "http://{ip}[:port][/path]"


class DetectionMode(_Props):
    type: Literal["NODE_STATUS_POLLING", "NODE_STATUS_POLL_URL"]
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _url(self) -> DetectionMode:
        if self.type != "NODE_STATUS_POLL_URL":
            return self
        url = self.options.get("poll_url")
        if not url:
            raise ValueError("NODE_STATUS_POLL_URL needs options.poll_url")
        found = POLL_URL.fullmatch(str(url))
        if found is None or not 0 < int(found["port"] or 80) < 65536:
            raise ValueError(
                f"poll_url {url!r} is not of the form {POLL_URL_FORM}: a member is polled at "
                "its own address only ({ip} or {nova_server_ip}; {nodename} may be in the path)"
            )
        return self


class Detection(_Props):
    detection_modes: list[DetectionMode] = Field(min_length=1)
    interval: int = Field(60, ge=1)
    node_update_timeout: int = Field(300, ge=0)
    recovery_conditional: Literal["ANY_FAILED", "ALL_FAILED"] = "ANY_FAILED"


class RecoveryAction(_Props):
    name: Literal["RECREATE", "REBUILD", "REBOOT"]
    params: dict[str, Any] = Field(default_factory=dict)


class Recovery(_Props):
    actions: list[RecoveryAction] = Field(min_length=1, max_length=1)
    fencing: list[str] = Field(default_factory=list)
    node_delete_timeout: int = Field(20, ge=0)
    node_force_recreate: bool = False


class HealthPolicy(_Props):
    detection: Detection
    recovery: Recovery


class BatchPolicy(_Props):
    min_in_service: int = Field(1, ge=0)
    max_batch_size: int = Field(-1, ge=-1)
    pause_time: int = Field(60, ge=0)


POLICY_TYPES: dict[str, type[BaseModel]] = {
    "senlin.policy.scaling-1.0": ScalingPolicy,
    "senlin.policy.deletion-1.0": DeletionPolicy,
    "senlin.policy.deletion-1.1": DeletionPolicy,
    "senlin.policy.zone_placement-1.0": ZonePlacementPolicy,
    "senlin.policy.affinity-1.0": AffinityPolicy,
    "senlin.policy.health-1.1": HealthPolicy,
    "senlin.policy.batch-1.0": BatchPolicy,
    "dockyard.policy.low_cpu_placement-1.0": LowCpuPlacementPolicy,
}
# Senlin's ordering: lower runs first (checks before placement before the rest).
POLICY_PRIORITY = {
    "senlin.policy.scaling": 100,
    "senlin.policy.deletion": 400,
    "senlin.policy.zone_placement": 300,
    "senlin.policy.affinity": 300,
    "dockyard.policy.low_cpu_placement": 300,
    "senlin.policy.health": 600,
    "senlin.policy.batch": 200,
}
# Only one of each of these per cluster (Senlin: "singleton" policies).
SINGLETON = set(POLICY_PRIORITY) - {"senlin.policy.scaling"}


def type_name(spec: Any) -> str:
    """'<type>-<version>' of a spec, after checking its envelope."""
    if not isinstance(spec, dict):
        raise SpecError("The spec must be a map with 'type', 'version' and 'properties'.")
    missing = [k for k in ("type", "version", "properties") if k not in spec]
    if missing:
        raise SpecError(f"The spec is missing {', '.join(repr(k) for k in missing)}.")
    unknown = set(spec) - {"type", "version", "properties", "description"}
    if unknown:
        raise SpecError(f"Unrecognizable spec item {sorted(unknown)[0]!r}.")
    return f"{spec['type']}-{spec['version']}"


def validate(registry: dict[str, type[BaseModel]], spec: Any, kind: str) -> BaseModel:
    """The properties of spec parsed by the schema of its type; SpecError if unusable."""
    name = type_name(spec)
    model = registry.get(name)
    if model is None:
        raise SpecError(f"The {kind}_type '{name}' could not be found.")
    if not isinstance(spec["properties"], dict):
        raise SpecError("The spec's 'properties' must be a map.")
    key, variant = PROFILE_VARIANTS.get(name, ("", model))
    if key and key in spec["properties"]:
        model = variant
    try:
        return model.model_validate(spec["properties"])
    except ValidationError as exc:
        raise SpecError(f"Failed in validating spec: {problems_line(exc.errors())}") from None


def schema_of(model: type[BaseModel], updatable: set[str]) -> dict[str, Any]:
    """A type's property schema in Senlin's shape: {prop: {type, required, updatable, ...}}."""
    json_schema = model.model_json_schema()
    required = set(json_schema.get("required", []))
    result: dict[str, Any] = {}
    for prop, info in json_schema.get("properties", {}).items():
        kind = info.get("type") or "any"
        result[prop] = {
            "type": {
                "object": "Map",
                "array": "List",
                "integer": "Integer",
                "number": "Number",
                "boolean": "Boolean",
                "string": "String",
            }.get(kind, "String"),
            "required": prop in required,
            "updatable": prop in updatable,
            "description": info.get("description", ""),
        }
        if "default" in info:
            result[prop]["default"] = info["default"]
    return result
