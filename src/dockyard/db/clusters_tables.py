"""Tables of container clusters (Senlin's object model): profiles, policies, clusters, their
nodes and policy bindings, actions, events and webhook receivers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.tables import Base, UTCDateTime, new_uuid, utcnow


class _Owned:
    """Columns every tenant-owned cluster object has (Senlin's project/user/timestamps)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ClusterProfileRow(_Owned, Base):
    """What each member is: a profile type (e.g. container.dockyard-1.0) and its properties."""

    __tablename__ = "cluster_profiles"

    type: Mapped[str] = mapped_column(String(255))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    meta_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ClusterPolicyRow(_Owned, Base):
    __tablename__ = "cluster_policies"

    type: Mapped[str] = mapped_column(String(255))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ClusterRow(_Owned, Base):
    __tablename__ = "clusters"

    profile_id: Mapped[str] = mapped_column(String(36), ForeignKey("cluster_profiles.id"))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    desired_capacity: Mapped[int] = mapped_column(Integer)
    min_size: Mapped[int] = mapped_column(Integer, default=0)
    max_size: Mapped[int] = mapped_column(Integer, default=-1)  # -1: no upper bound
    timeout: Mapped[int] = mapped_column(Integer, default=3600)
    meta_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Controller state that must survive a replica: a rolling update's progress, cooldowns.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_index: Mapped[int] = mapped_column(Integer, default=1)
    init_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Which replica's controller works on the cluster, until when (see services/clusters_loop).
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ClusterNodeRow(_Owned, Base):
    """A member (or an orphan node): one Dockyard container, its physical_id."""

    __tablename__ = "cluster_nodes"

    cluster_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("clusters.id"), nullable=True, index=True
    )
    profile_id: Mapped[str] = mapped_column(String(36), ForeignKey("cluster_profiles.id"))
    physical_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    index: Mapped[int] = mapped_column(Integer, default=-1)
    role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    meta_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # placement: host, zone
    tainted: Mapped[bool] = mapped_column(Boolean, default=False)
    init_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClusterBindingRow(Base):
    """A policy attached to a cluster."""

    __tablename__ = "cluster_policy_bindings"
    __table_args__ = (Unique("cluster_id", "policy_id", name="uq_cluster_policy_bindings_pair"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    cluster_id: Mapped[str] = mapped_column(String(36), ForeignKey("clusters.id"), index=True)
    policy_id: Mapped[str] = mapped_column(String(36), ForeignKey("cluster_policies.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ClusterActionRow(_Owned, Base):
    """An operation on a cluster or node, recorded from request to end (Senlin's action)."""

    __tablename__ = "cluster_actions"
    __table_args__ = (Index("ix_cluster_actions_cluster_status", "cluster_id", "status"),)

    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(36))
    cluster_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    cause: Mapped[str] = mapped_column(String(64), default="RPC Request")
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    end_time: Mapped[float | None] = mapped_column(Float, nullable=True)
    timeout: Mapped[int] = mapped_column(Integer, default=3600)


class ClusterEventRow(Base):
    __tablename__ = "cluster_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    oid: Mapped[str] = mapped_column(String(36))
    oname: Mapped[str] = mapped_column(String(255))
    otype: Mapped[str] = mapped_column(String(16))
    cluster_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    level: Mapped[int] = mapped_column(Integer, default=20)
    meta_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ClusterReceiverRow(_Owned, Base):
    """A webhook: its secret URL triggers one action on one cluster, as the creator."""

    __tablename__ = "cluster_receivers"

    type: Mapped[str] = mapped_column(String(32))
    cluster_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)  # the creator's, at creation
    # The URL's credential; only its owner sees it (the alarm_url), lookups go by its hash.
    secret: Mapped[str] = mapped_column(String(64))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
