"""SQLAlchemy tables: one Row class per table; the schema itself lives in migrations/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

from dockyard.domain.containerspec import ContainerSpec
from dockyard.domain.records import ContainerRecord, HostRecord, SandboxRecord

_SPEC = TypeAdapter(ContainerSpec)
# The spec fields copied into columns of their own, for list filters and sort keys.
SPEC_COLUMNS = ("image", "cpu", "memory", "auto_remove")

# A container waiting for a host (an unplaceable one is Error, a placed one has a host).
PENDING_WHERE = "host_uuid IS NULL AND status = 'Creating'"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every dialect (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SpecJSON(TypeDecorator[ContainerSpec]):
    """A ContainerSpec as one JSON document; keys it lacks take the field's default."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: ContainerSpec | None, dialect: Any) -> Any:
        return None if value is None else _SPEC.dump_python(value, mode="json")

    def process_result_value(self, value: Any, dialect: Any) -> ContainerSpec | None:
        return None if value is None else _SPEC.validate_python(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class HostRow(Base):
    __tablename__ = "hosts"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    hostname: Mapped[str] = mapped_column(String(255), unique=True)
    agent_url: Mapped[str] = mapped_column(String(255))
    # Secret the control plane presents to the agent's host API; never leaves the server.
    agent_token: Mapped[str] = mapped_column(String(255))
    cpus: Mapped[int] = mapped_column(Integer)
    mem_total: Mapped[int] = mapped_column(Integer)  # MiB
    disk_total: Mapped[int] = mapped_column(Integer)  # GiB
    cpu_used: Mapped[float] = mapped_column(Float, default=0.0)
    # CPUs its containers used over the agent's last heartbeat interval, as the agent
    # measured them (None: never reported, e.g. hollow hosts); cpu_used is what they claim.
    cpu_observed: Mapped[float | None] = mapped_column(Float, nullable=True)
    mem_used: Mapped[int] = mapped_column(Integer, default=0)
    disk_used: Mapped[int] = mapped_column(Integer, default=0)
    architecture: Mapped[str] = mapped_column(String(64), default="")
    os_type: Mapped[str] = mapped_column(String(64), default="")
    os: Mapped[str] = mapped_column(String(255), default="")
    kernel_version: Mapped[str] = mapped_column(String(255), default="")
    runtimes: Mapped[list[str]] = mapped_column(JSON, default=list)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    availability_zone: Mapped[str] = mapped_column(String(255), default="nova")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    forced_down: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # SHA-256 of the host's credential (the agent's identity); the credential itself is
    # known only to the agent. NULL: a host from before credentials, adopted at next join.
    credential_hash: Mapped[str | None] = mapped_column(
        String(64), nullable=True, unique=True, index=True
    )
    report_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Bumped (row-locked) on every change to one of the host's containers, so an agent that
    # watches "revision > N" sees changes in commit order even with several API replicas.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # Tenant networks: the underlay address peers tunnel to, and the watch revision at which
    # what the host must carry last changed (with its digest and networks, to see a change).
    tunnel_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    network_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    network_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    network_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # The watch revision of the last change that may move what the host carries (a port,
    # rule, network, peer); a revision moved for anything else (a status, a delete asked
    # for) leaves it, so the networks computed after it need not be computed again.
    network_touched: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SandboxRow(Base):
    """An infra container owning the network, IPC and UTS namespaces its containers join."""

    __tablename__ = "sandboxes"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    share_pid: Mapped[bool] = mapped_column(Boolean, default=False)
    # Made by Dockyard for one container (or a capsule): goes away with its last member.
    auto_delete: Mapped[bool] = mapped_column(Boolean, default=True)
    cpu: Mapped[float] = mapped_column(Float, default=0.0)  # claimed on the host
    memory: Mapped[int] = mapped_column(Integer, default=0)  # MiB claimed on the host

    desired_state: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    host_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("hosts.uuid"), nullable=True, index=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=0, index=True)

    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    observed_generation: Mapped[int] = mapped_column(Integer, default=0)
    container_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    addresses: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CapsuleRow(Base):
    """Zun's capsule (a pod): one sandbox, init containers, containers and local volumes."""

    __tablename__ = "capsules"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_capsules_project_name"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    restart_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    template: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    volumes: Mapped[list[str]] = mapped_column(JSON, default=list)
    cpu: Mapped[float] = mapped_column(Float, default=0.0)
    memory: Mapped[int] = mapped_column(Integer, default=0)
    sandbox_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("sandboxes.uuid"), nullable=True, index=True
    )
    host_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("hosts.uuid"), nullable=True, index=True
    )
    desired_state: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ContainerRow(Base):
    __tablename__ = "containers"
    __table_args__ = (
        UniqueConstraint("project_id", "name", name="uq_containers_project_name"),
        # The scheduler's queue: only containers waiting for a host, oldest first.
        Index(
            "ix_containers_pending", "created_at", "uuid",
            postgresql_where=text(PENDING_WHERE), sqlite_where=text(PENDING_WHERE),
        ),
    )  # fmt: skip

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))

    # --- spec (what the user asked for) ---
    spec: Mapped[ContainerSpec] = mapped_column(SpecJSON())
    # Copies of spec fields that lists filter and sort by; `_index_spec` keeps them equal.
    image: Mapped[str] = mapped_column(String(255))
    cpu: Mapped[float] = mapped_column(Float)
    memory: Mapped[int] = mapped_column(Integer)  # MiB
    auto_remove: Mapped[bool] = mapped_column(Boolean, default=False)
    # Observed: the asked-for hostname, or the one the engine gave when none was asked.
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Sandbox mode: the sandbox whose namespaces this container joins (None: standalone).
    sandbox_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("sandboxes.uuid"), nullable=True, index=True
    )
    capsule_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("capsules.uuid"), nullable=True, index=True
    )
    container_type: Mapped[str] = mapped_column(String(16), default="container")  # or "init"
    capsule_order: Mapped[int] = mapped_column(Integer, default=0)  # init containers run in order

    # --- desired state (written by the API) ---
    desired_state: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    state_requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reboot_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A rebuild: the engine container is made anew unless it was made at this generation or
    # later (its io.dockyard.generation label), which makes the rebuild crash-safe.
    rebuild_generation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stop_timeout: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("hosts.uuid"), nullable=True, index=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=0, index=True)

    # --- observed state (reported by the agent) ---
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    task_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    observed_generation: Mapped[int] = mapped_column(Integer, default=0)
    container_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    addresses: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    ports: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    @validates("spec")
    def _index_spec(self, key: str, spec: ContainerSpec) -> ContainerSpec:
        # A new spec (create, resize, PATCH) updates the columns queries read, so the two
        # cannot disagree; loading a row does not pass here (its columns are stored).
        for name in SPEC_COLUMNS:
            setattr(self, name, getattr(spec, name))
        return spec


class QuotaRow(Base):
    """A project's own limit for one resource (Zun's `quotas`); absent: the class default."""

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(32), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)  # -1: unlimited
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class QuotaClassRow(Base):
    """A quota class's limit for one resource; class `default` replaces the built-in defaults."""

    __tablename__ = "quota_classes"

    class_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(32), primary_key=True)
    hard_limit: Mapped[int] = mapped_column(Integer)  # -1: unlimited
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class QuotaUsageRow(Base):
    """What a project's containers hold, changed by conditional UPDATEs in the same
    transaction as the container rows, so that concurrent creates cannot overrun a limit."""

    __tablename__ = "quota_usages"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    containers: Mapped[int] = mapped_column(Integer, default=0)
    # Thousandths of a CPU, so sums stay exact; BIGINT because a cpu limit in millis can
    # pass 2**31 and PostgreSQL casts the compared value to the column's type.
    cpu_millis: Mapped[int] = mapped_column(BigInteger, default=0)
    memory: Mapped[int] = mapped_column(Integer, default=0)  # MiB
    disk: Mapped[int] = mapped_column(Integer, default=0)  # GiB
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


def _rows_are_records(
    container: ContainerRow, sandbox: SandboxRow, host: HostRow
) -> tuple[ContainerRecord, SandboxRecord, HostRecord]:
    """Never called: mypy --strict fails here the day a row stops satisfying the Protocol
    the API's views are typed against (domain/records.py)."""
    return container, sandbox, host


# Cluster tables live in their own module; imported here so that Base.metadata (migrations,
# the models-vs-migrations check) knows them.
from dockyard.db import actions_tables as _actions_tables  # noqa: E402, F401
from dockyard.db import clusters_tables as _clusters_tables  # noqa: E402, F401
from dockyard.db import images_tables as _images_tables  # noqa: E402, F401
from dockyard.db import networks_tables as _networks_tables  # noqa: E402, F401
from dockyard.db import registries_tables as _registries_tables  # noqa: E402, F401
from dockyard.db import streams_tables as _streams_tables  # noqa: E402, F401
from dockyard.db import volumes_tables as _volumes_tables  # noqa: E402, F401
