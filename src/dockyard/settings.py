"""One Settings tree for every Dockyard process; env vars are DOCKYARD_<GROUP>__<FIELD>."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the REST API listens on.")
    port: int = Field(9517, description="Port of the REST API (Zun's default is 9517).")
    public_url: str | None = Field(
        None, description="Base URL used in links; default: taken from each request."
    )
    max_limit: int = Field(1000, description="Largest page a list may return.")
    exec_timeout: float = Field(
        60.0, description="Seconds a non-interactive execute may run before it is a 409."
    )
    stream_token_ttl: float = Field(
        30.0, gt=0, description="Seconds a console URL (exec, attach) may wait to be opened."
    )


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default: SQLite file dockyard.db in the data dir.",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")


def _split(value: object) -> object:
    """A list from an env var: comma- or space-separated (JSON lists work too)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [part for part in stripped.replace(",", " ").split() if part]
    return value


def _pairs(value: object) -> object:
    """A key=value map from an env var: `a=1,b=2` (a JSON object works too)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{"):
            return json.loads(stripped)
        pairs = [part.split("=", 1) for part in stripped.split(",") if part.strip()]
        if any(len(pair) != 2 or not pair[0].strip() for pair in pairs):
            raise ValueError("labels must be key=value pairs separated by commas")
        return {key.strip(): item.strip() for key, item in pairs}
    return value


class AgentSettings(BaseModel):
    control_plane: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="URLs of the control-plane replicas, comma-separated; the agent fails over "
        "between them. Default in `serve`: the local API.",
    )
    join_token: SecretStr | None = Field(
        None,
        description="Secret an agent presents once to join; it gets its own host credential "
        "in exchange. `dockyard api` needs it; `serve` makes one for its own agent.",
    )
    name: str | None = Field(None, description="Host name to register; default: the OS's.")
    state_dir: Path | None = Field(
        None, description="Where the agent keeps its host identity; default: <data dir>/agent."
    )
    runtime: Literal["docker", "fake"] = Field(
        "docker", description="docker (the engine) or fake (hollow hosts, for scale tests)."
    )
    hosts: int = Field(1, ge=1, description="Hosts this agent process runs (fake runtime only).")
    labels: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="Host labels, key=value pairs separated by commas."
    )
    hostapi_host: str = Field("127.0.0.1", description="Address of the agent's host API.")
    hostapi_port: int = Field(0, description="Port of the agent's host API; 0 picks a free one.")
    docker_url: str | None = Field(None, description="Docker engine URL; default: DOCKER_HOST.")
    heartbeat_interval: float = Field(5.0, description="Seconds between heartbeats.")
    resync_interval: float = Field(
        30.0, description="Seconds between full comparisons of engine and desired state."
    )
    watch_timeout: float = Field(20.0, description="Seconds one assignment long-poll may wait.")
    workers: int = Field(8, description="Containers converged in parallel.")
    availability_zone: str = Field("nova", description="Availability zone of this host.")
    pool_size: int = Field(
        2,
        ge=0,
        description="Ready sandboxes each agent keeps warm at least (0 disables the pool).",
    )
    pool_max: int = Field(
        32,
        ge=0,
        description="Ready sandboxes an agent may keep warm after a burst of demand; the "
        "pool grows to the recent peak of sandboxes asked for and shrinks back slowly.",
    )

    network_backend: Literal["kernel", "none"] = Field(
        "kernel",
        description="What carries tenant networks on this host: `kernel` (VXLAN, bridges, "
        "veth and nf_tables of the Linux kernel; needs root) or `none` (networks are not "
        "carried here). Nothing is touched until the control plane sends networks.",
    )

    _split_urls = field_validator("control_plane", mode="before")(_split)
    _split_labels = field_validator("labels", mode="before")(_pairs)


ZUN_FILTERS = (
    "ComputeFilter",
    "AvailabilityZoneFilter",
    "RuntimeFilter",
    "CPUFilter",
    "RamFilter",
    "DiskFilter",
    "LabelFilter",
)


def _names(value: object) -> object:
    """A list from env as JSON (`["A","B"]`) or comma-separated (`A,B`)."""
    if isinstance(value, str):
        if value.strip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class SchedulerSettings(BaseModel):
    host_down_after: float = Field(
        30.0, description="Seconds without a heartbeat after which a host is down."
    )
    cpu_allocation_ratio: float = Field(16.0, description="CPU overcommit (Zun's default).")
    ram_allocation_ratio: float = Field(1.5, description="Memory overcommit (Zun's default).")
    disk_allocation_ratio: float = Field(1.0, description="Disk overcommit (Zun's default).")
    filters: Annotated[list[str], NoDecode, BeforeValidator(_names)] = Field(
        default_factory=lambda: list(ZUN_FILTERS),
        description="Host filters by Zun's names, applied in order (JSON list or A,B,C). "
        "CPU and memory limits are also enforced by the claim itself, with or without "
        "CPUFilter/RamFilter; a requested host always applies.",
    )
    weigher: str = Field("spread", description="spread or binpack.")
    candidates: int = Field(
        8,
        ge=1,
        description="Feasible hosts weighed per placement, taken from a random point of a "
        "shuffled host list (Nomad's bounded search): more packs/spreads more exactly, fewer "
        "is cheaper and makes concurrent placers collide less.",
    )
    index_refresh: float = Field(
        0.5,
        gt=0,
        description="Seconds a replica's in-memory host index may lag behind hosts changed "
        "elsewhere (claims are always checked by the database itself).",
    )
    enabled: bool = Field(
        True,
        description="Run the scheduler loop in this replica. False (dockyard api "
        "--no-scheduler): it serves the API and leaves placement to the other replicas.",
    )
    batch_size: int = Field(
        500,
        ge=1,
        description="Pending containers placed per scheduler transaction: larger batches "
        "amortise the claim and assignment statements over more placements.",
    )


class ContainerSettings(BaseModel):
    default_cpu: float = Field(1.0, description="CPUs given to a container that asks for none.")
    default_memory: int = Field(512, description="MiB given to a container that asks for none.")
    sandbox_mode: str = Field(
        "sandbox",
        description="sandbox: each container joins an infra container that owns its network, "
        "IPC and UTS namespaces; standalone: plain containers. A request may override it.",
    )
    sandbox_cpu: float = Field(0.01, description="CPUs a sandbox's infra container is charged.")
    sandbox_memory: int = Field(8, description="MiB a sandbox's infra container is charged.")
    minimum_cpus: float = Field(0.1, description="Smallest cpu a container may ask for.")
    maximum_cpus: float = Field(16.0, description="Largest cpu a container may ask for.")
    minimum_memory: int = Field(4, description="Smallest memory (MiB) a container may ask for.")
    maximum_memory: int = Field(8192, description="Largest memory (MiB) a container may ask for.")


class QuotaSettings(BaseModel):
    """Zun's [quota] defaults; the quota class `default` and per-project quotas override them."""

    containers: int = Field(40, ge=-1, description="Containers per project (-1: unlimited).")
    memory: int = Field(51200, ge=-1, description="MiB of container memory per project.")
    cpu: int = Field(20, ge=-1, description="CPUs of containers per project.")
    disk: int = Field(100, ge=-1, description="GiB of container disk per project.")


class RegistrySettings(BaseModel):
    encryption_key: SecretStr | None = Field(
        None,
        description="Fernet key (url-safe base64 of 32 bytes) that encrypts private registry "
        "passwords at rest; every control-plane replica must have the same one. Unset: "
        "registry.key in the data directory, made on first use (one replica only).",
    )
    search_timeout: float = Field(
        5.0,
        gt=0,
        description="Seconds an image search may spend on one registry (a private "
        "one, or Docker Hub) before it is answered as unreachable.",
    )
    insecure_registries: Annotated[list[str], NoDecode, BeforeValidator(_names)] = Field(
        default_factory=list,
        description="host[:port] of registries searched over plain HTTP "
        "when HTTPS fails (as the engine's insecure-registries); loopback ones always are.",
    )
    hub_search_url: str = Field(
        "https://index.docker.io/v1/search",
        description="Docker Hub's search endpoint, asked for a search of docker.io/NAME.",
    )


class ConfigError(ValueError):
    """A setting, or a file a setting names, is unusable: the process must not start."""


class AuthSettings(BaseModel):
    backend: Literal["noauth", "keystone", "tokens"] = Field(
        "noauth",
        description="noauth (every request is the admin of one project), keystone (validate "
        "X-Auth-Token with Keystone) or tokens (static API tokens from tokens_file).",
    )
    default_project_id: str = Field(
        "default", description="Project every request acts in under noauth."
    )
    default_user_id: str = Field("admin", description="User every request acts as under noauth.")
    tokens_file: Path | None = Field(
        None,
        description="YAML list of {token, project_id, user_id, roles} for the tokens backend.",
    )
    policy_file: Path | None = Field(
        None, description="YAML or JSON file of policy rules that override the defaults."
    )
    keystone_url: str | None = Field(
        None, description="Keystone identity URL, e.g. http://keystone:5000/v3 (keystone backend)."
    )
    service_username: str | None = Field(
        None, description="Dockyard's service user; needs the `service` role to check tokens."
    )
    service_password: SecretStr | None = Field(None, description="Password of the service user.")
    service_project: str = Field("service", description="Project the service user logs in to.")
    service_user_domain_name: str = Field("Default", description="Domain of the service user.")
    service_project_domain_name: str = Field(
        "Default", description="Domain of the service project."
    )
    cache_ttl: float = Field(
        300.0,
        ge=0,
        description="Seconds a validated token is trusted without asking Keystone again "
        "(never past the token's own expiry; a revoked token may live this long). 0: no cache.",
    )
    keystone_timeout: float = Field(
        10.0, gt=0, description="Seconds one request to Keystone may take."
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCKYARD_", env_nested_delimiter="__")

    data_dir: Path = Field(Path("./data"), description="Where SQLite and local state live.")
    log_level: str = Field("info", description="Python logging level.")
    api: ApiSettings = Field(default_factory=ApiSettings, description="REST API.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Store.")
    agent: AgentSettings = Field(default_factory=AgentSettings, description="Host agent.")
    scheduler: SchedulerSettings = Field(
        default_factory=SchedulerSettings, description="Placement."
    )
    containers: ContainerSettings = Field(
        default_factory=ContainerSettings, description="Container defaults and limits."
    )
    quota: QuotaSettings = Field(default_factory=QuotaSettings, description="Default quotas.")
    auth: AuthSettings = Field(
        default_factory=AuthSettings, description="Authentication and policy."
    )
    registries: RegistrySettings = Field(
        default_factory=RegistrySettings, description="Private registry credentials."
    )

    def database_url(self) -> str:
        """The configured URL, or SQLite under the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'dockyard.db').resolve()}"
