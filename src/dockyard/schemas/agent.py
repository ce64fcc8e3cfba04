"""Messages between the agent and the control plane's agent API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_serializer

from dockyard.domain.containerspec import ContainerSpec
from dockyard.schemas.netplane import HostNetworks, PortBinding


class HostRegistration(BaseModel):
    hostname: str = Field(min_length=1, max_length=255)
    agent_url: str
    # The secret the control plane presents to this host's host API (random per agent start).
    agent_token: str = Field(min_length=16, max_length=255)
    cpus: int
    mem_total: int  # MiB
    disk_total: int  # GiB
    architecture: str = ""
    os_type: str = ""
    os: str = ""
    kernel_version: str = ""
    runtimes: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    availability_zone: str = "nova"
    # The underlay address other hosts reach this one's VXLAN tunnels at; None: the host
    # part of agent_url.
    tunnel_ip: str | None = Field(None, max_length=64)


class HostRegistered(BaseModel):
    uuid: str
    revision: int
    # The host's own credential: returned once, when it is made (join, rotation), never again.
    credential: str | None = None


class SandboxRef(BaseModel):
    """The sandbox a container joins, as much as the agent needs to make it."""

    uuid: str
    hostname: str | None = None
    share_pid: bool = False


class SandboxAssignment(BaseModel):
    """The desired state of one sandbox on the agent's host."""

    uuid: str
    project_id: str
    generation: int
    desired_state: str  # "running" or "deleted"
    hostname: str | None = None
    share_pid: bool = False
    container_id: str | None = None
    volumes: list[str] = Field(default_factory=list)  # engine volumes that go with it
    # The sandbox's attachments to tenant networks (its containers share them).
    ports: list[PortBinding] = Field(default_factory=list)


class RegistryCredentials(BaseModel):
    """A private registry's login; the password is a SecretStr (hidden in reprs and logs)
    and written out in clear only on the wire to the agent."""

    server: str
    username: str
    password: SecretStr

    @field_serializer("password", when_used="json")
    def _reveal(self, value: SecretStr) -> str:
        return value.get_secret_value()


class Assignment(BaseModel):
    """The desired state of one container on the agent's host."""

    uuid: str
    project_id: str
    generation: int
    observed_generation: int
    desired_state: str  # DesiredState value
    state_requested_at: datetime
    reboot_requested_at: datetime | None = None
    rebuild_generation: int | None = None  # remake an engine container older than this
    stop_timeout: int | None = None
    container_id: str | None = None  # engine id once the agent has reported one
    status: str
    # What the user asked for, exactly as the control plane stores it.
    spec: ContainerSpec
    sandbox: SandboxRef | None = None
    capsule_uuid: str | None = None
    container_type: str = "container"  # or "init": runs to completion before the others
    capsule_order: int = 0
    name: str = ""
    # The credentials of spec.registry_id, for the pull; only this host's agent receives them.
    registry_auth: RegistryCredentials | None = None
    # Attachments to tenant networks of a container without a sandbox (standalone mode);
    # a sandboxed container's are its sandbox's.
    ports: list[PortBinding] = Field(default_factory=list)


class AssignmentBatch(BaseModel):
    revision: int
    full: bool  # True: these are all of the host's objects (orphans may be removed)
    containers: list[Assignment]
    sandboxes: list[SandboxAssignment] = Field(default_factory=list)
    # What the host must carry of tenant networks; None: unchanged since the agent's last
    # batch (always sent on a full batch).
    networks: HostNetworks | None = None


class PulledImage(BaseModel):
    """An image the agent pulled for a container: the control plane records it on the host,
    as it does an image pulled through /v1/images."""

    ref: str = Field(min_length=1, max_length=512)  # the container's image, as asked for
    image_id: str = Field(max_length=255)
    size: int = Field(ge=0)  # bytes


class ContainerReport(BaseModel):
    """What the agent observed of one container; gone=True means no engine object exists."""

    uuid: str
    generation: int  # the desired generation this observation answers
    gone: bool = False
    in_progress: bool = False  # a step is under way: show it, but it acknowledges nothing
    status: str | None = None
    status_reason: str | None = None
    task_state: str | None = None
    container_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    addresses: dict[str, Any] | None = None
    ports: list[int] | None = None
    hostname: str | None = None
    pulled: PulledImage | None = None  # set once, right after a pull for this container


class SandboxReport(BaseModel):
    uuid: str
    generation: int
    gone: bool = False
    status: str | None = None
    status_reason: str | None = None
    container_id: str | None = None
    addresses: dict[str, Any] | None = None


class Heartbeat(BaseModel):
    """What an agent says with its heartbeat: the CPUs its containers used since the last
    one (None when it cannot tell, e.g. hollow hosts)."""

    cpu_observed: float | None = Field(None, ge=0, allow_inf_nan=False)


class ReportBatch(BaseModel):
    reports: list[ContainerReport] = Field(default_factory=list)
    sandboxes: list[SandboxReport] = Field(default_factory=list)
