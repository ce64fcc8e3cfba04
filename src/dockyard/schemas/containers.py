"""Wire models for containers as Zun's v1 API accepts them, with per-microversion fields."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$"
Name = Annotated[str, StringConstraints(min_length=2, max_length=255, pattern=NAME_PATTERN)]
Hostname = Annotated[
    str, StringConstraints(min_length=1, max_length=63, pattern=r"^[a-zA-Z0-9-._]*$")
]


# The reference grammar of the container engines (distribution/reference): an optional
# registry host[:port], lower-case path components, then an optional :tag and @digest.
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[_.]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE_RE = re.compile(rf"^({_NAME})(?::[\w][\w.-]{{0,127}})?(?:@{_DIGEST})?$")
MAX_IMAGE_NAME = 255  # the engines' limit on the name part


def check_image_reference(value: str) -> str:
    """`value` if an engine could ever pull or run it, else ValueError saying why not."""
    match = _REFERENCE_RE.match(value)
    if not match:
        raise ValueError(
            f"Invalid image reference {value!r}: use [HOST[:PORT]/]NAME[:TAG][@DIGEST], "
            "NAME in lower case (e.g. busybox:1.36)."
        )
    if len(match.group(1)) > MAX_IMAGE_NAME:
        raise ValueError(f"Invalid image reference: the name is over {MAX_IMAGE_NAME} characters.")
    return value


ImageRef = Annotated[
    str, StringConstraints(min_length=2, max_length=512), AfterValidator(check_image_reference)
]


def _not_bool(value: Any) -> Any:
    # JSON true/false is not a number in Zun's schema; pydantic would read it as 1/0.
    if isinstance(value, bool):
        raise ValueError("Input should be a number, not a boolean")
    return value


Cpu = Annotated[float, BeforeValidator(_not_bool), Field(gt=0)]
Memory = Annotated[int | str, Field(union_mode="left_to_right"), BeforeValidator(_not_bool)]
_MEMORY_RE = re.compile(r"^([0-9]+)([mMgG]?)$")
_PORT_RE = re.compile(r"^([0-9]{1,5})(/(tcp|udp))?$")

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
PULL_POLICIES = ("never", "always", "ifnotpresent")

# The microversion that introduced each create field (zun/api/controllers/v1/schemas).
FIELD_MIN_VERSION: dict[str, tuple[int, int]] = {
    "nets": (1, 2),
    "auto_remove": (1, 3),
    "runtime": (1, 5),
    "hostname": (1, 9),
    "mounts": (1, 11),
    "privileged": (1, 21),
    "healthcheck": (1, 22),
    "exposed_ports": (1, 24),
    "cpu_policy": (1, 28),
    "registry": (1, 31),
    "tty": (1, 36),
    "host": (1, 39),
    "entrypoint": (1, 40),
}


def parse_memory(value: int | str) -> int:
    """MiB from an int or a string like "512", "512M" or "1G"."""
    if isinstance(value, int):
        return value
    match = _MEMORY_RE.match(value)
    if not match:
        raise ValueError(f"Invalid memory {value!r}: use MiB, e.g. 512, '512M' or '1G'.")
    amount, unit = int(match.group(1)), match.group(2).lower()
    return amount * 1024 if unit == "g" else amount


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RestartPolicyIn(_Strict):
    Name: Literal["no", "on-failure", "always", "unless-stopped"]
    MaximumRetryCount: int = Field(0, ge=0)


class HealthcheckIn(_Strict):
    cmd: str = Field(min_length=1)
    interval: int = Field(0, ge=0)
    retries: int = Field(0, ge=0)
    timeout: int = Field(0, ge=0)


class ContainerCreate(_Strict):
    """POST /v1/containers body; unknown fields are a 400 as in Zun."""

    name: Name | None = None
    image: ImageRef
    command: str | list[str] | None = None
    entrypoint: list[str] | None = None
    cpu: Cpu | None = None
    memory: Memory | None = None
    disk: int | None = Field(None, ge=0)
    cpu_policy: Literal["shared", "dedicated"] | None = None
    workdir: Annotated[str, StringConstraints(max_length=255)] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    restart_policy: RestartPolicyIn | None = None
    interactive: bool = False
    tty: bool | None = None
    image_pull_policy: str | None = None
    image_driver: Literal["docker", "glance"] | None = None
    security_groups: list[str] | None = None
    hints: dict[str, str] | None = None
    nets: list[dict[str, str]] | None = None
    mounts: list[dict[str, Any]] | None = None
    runtime: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    hostname: Hostname | None = None
    availability_zone: str | None = None
    auto_remove: bool = False
    auto_heal: bool = False
    privileged: bool = False
    healthcheck: HealthcheckIn | None = None
    exposed_ports: dict[str, dict[str, Any]] | None = None
    registry: str | None = None
    host: str | None = None
    # Dockyard extensions (not Zun): run standalone or in a sandbox, or join a sandbox.
    sandbox_mode: Literal["sandbox", "standalone"] | None = None
    sandbox: Annotated[str, StringConstraints(min_length=36, max_length=36)] | None = None
    share_pid: bool = False  # a new sandbox also shares its PID namespace with its members

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int | str | None) -> int | None:
        return None if value is None else parse_memory(value)

    @field_validator("image_pull_policy")
    @classmethod
    def _pull_policy(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in PULL_POLICIES:
            raise ValueError(f"image_pull_policy must be one of {', '.join(PULL_POLICIES)}")
        return None if value is None else value.lower()

    @field_validator("exposed_ports")
    @classmethod
    def _ports(cls, value: dict[str, dict[str, Any]] | None) -> dict[str, dict[str, Any]] | None:
        for key in value or {}:
            match = _PORT_RE.match(key)
            if not match or not 1 <= int(match.group(1)) <= 65535:
                raise ValueError(f"Invalid exposed port {key!r}: use '<1-65535>[/tcp|/udp]'.")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | list[str] | None) -> str | list[str] | None:
        # `openstack appcontainer run IMAGE` sends [] for "no command": the image's default.
        return value or None

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("must not be empty")
        return value


class ContainerUpdate(_Strict):
    """PATCH /v1/containers/{id} body."""

    name: Name | None = None
    cpu: Cpu | None = None
    memory: Memory | None = None
    auto_heal: bool | None = None

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int | str | None) -> int | None:
        return None if value is None else parse_memory(value)
