"""What a user asked a container to be: one typed spec from the API to the engine and back.

The spec is declared here once. The API builds it (services/containers.py `spec_of`, and
the capsule service for members), the database stores it whole in one JSON column (plus
copies of the few fields queries sort or filter by), the agent receives it in its
Assignment, `agent/reconcile.run_spec` turns it into engine options and `api/views.py`
renders it. A frozen dataclass, so a change is a new spec (`dataclasses.replace`), never
an edit in place that the database could miss.

Standard library only (STYLE.md: domain is pure); pydantic (wire, agent messages) and
SQLAlchemy (the JSON column) read and write these dataclasses at their own boundaries.
Every field has a default, so a spec stored before a field existed still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"  # no | on-failure | always | unless-stopped
    maximum_retry_count: int = 0


@dataclass(frozen=True)
class Healthcheck:
    """A shell command the engine runs to judge health, and its timings in seconds."""

    test: str
    interval: int = 0
    retries: int = 0
    timeout: int = 0


@dataclass(frozen=True)
class VolumeMount:
    """An engine volume mounted into the container: a capsule's local volume, a project's
    named volume (`volume_uuid`), or, with no name, a new one made for this container alone
    (Zun's `{size, destination}`), which the engine removes with the container."""

    name: str  # the engine volume's name; "" for a new volume of this container only
    destination: str
    read_only: bool = False
    volume_uuid: str | None = None  # the project's named volume (services/volumes.py)
    size: int = 0  # GiB asked for a new volume; local volumes record it, they cannot cap it


@dataclass(frozen=True)
class InjectedFile:
    """A file the user sent (Zun 1.23 `type: bind` mount), written at destination before the
    container first starts; base64, as on the wire, so the spec stays JSON."""

    destination: str
    content: str


@dataclass(frozen=True)
class ContainerSpec:
    """One container as asked for, defaults applied; see the module docstring for its path."""

    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    # Asked for; the row's `hostname` column shows what the engine gave when none was asked.
    hostname: str | None = None
    cpu: float = 0.0  # CPUs (fractional)
    memory: int = 0  # MiB
    disk: int = 0  # GiB
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False
    auto_heal: bool = False
    interactive: bool = False
    tty: bool = False
    privileged: bool = False
    exposed_ports: list[str] = field(default_factory=list)  # "80/tcp", "53/udp"
    healthcheck: Healthcheck | None = None
    image_pull_policy: str | None = None  # never | always | ifnotpresent (None: ifnotpresent)
    image_driver: str = "docker"
    runtime: str | None = None
    cpu_policy: str = "shared"
    hints: dict[str, str] = field(default_factory=dict)  # scheduler hints
    availability_zone: str | None = None
    requested_host: str | None = None  # a host name or uuid the scheduler must use
    volume_mounts: list[VolumeMount] = field(default_factory=list)
    injected_files: list[InjectedFile] = field(default_factory=list)
    # The host of the named volumes it mounts (local volumes live on one host).
    volume_host: str | None = None
    # The project's private registry whose credentials pull the image (Zun 1.31 `registry`).
    registry_id: str | None = None
    # Names of the security groups its ports are in (Zun's view shows names).
    security_groups: list[str] = field(default_factory=list)


def port_of(text: str) -> tuple[int, str]:
    """(port, protocol) of an exposed port written "80/tcp" or "80"."""
    port, _, proto = text.partition("/")
    return int(port), proto or "tcp"
