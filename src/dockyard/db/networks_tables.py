"""Tenant networks (Neutron's shapes): networks, subnets, pools, ports, security groups, and
Zun's container-network objects. Addresses live here only: IPAM is central, never on a host."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from dockyard.db.tables import Base, UTCDateTime, new_uuid, utcnow


class _Stamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# One default network and one `default` group per project, whoever races to make them
# (services/project_defaults.py); partial unique indexes, as on PostgreSQL so on SQLite.
DEFAULT_NETWORK_WHERE = "is_default"
DEFAULT_GROUP_WHERE = "name = 'default'"


class NetworkRow(_Stamped, Base):
    __tablename__ = "networks"
    __table_args__ = (
        Index(
            "uq_networks_project_default", "project_id", unique=True,
            postgresql_where=text(DEFAULT_NETWORK_WHERE),
            sqlite_where=text(DEFAULT_NETWORK_WHERE),
        ),
    )  # fmt: skip

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    # The VXLAN network identifier; unique across projects (the data plane keys on it).
    vni: Mapped[int] = mapped_column(Integer, unique=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)  # router:external
    mtu: Mapped[int] = mapped_column(Integer, default=1450)
    # The network a project's containers join when they name none (made on first use).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class SubnetPoolRow(_Stamped, Base):
    __tablename__ = "subnet_pools"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    prefixes: Mapped[list[str]] = mapped_column(JSON, default=list)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    ip_version: Mapped[int] = mapped_column(Integer, default=4)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class SubnetRow(_Stamped, Base):
    __tablename__ = "subnets"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    network_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("networks.uuid", ondelete="CASCADE"), index=True
    )
    subnetpool_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("subnet_pools.uuid"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip_version: Mapped[int] = mapped_column(Integer, default=4)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    allocation_pools: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    dns_nameservers: Mapped[list[str]] = mapped_column(JSON, default=list)
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class PortRow(_Stamped, Base):
    """One attachment: an address and a MAC on one subnet, for a container or a capsule."""

    __tablename__ = "ports"
    # Two ports can never hold one address: racing allocators lose here and retry.
    __table_args__ = (UniqueConstraint("subnet_uuid", "ip_address"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    network_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("networks.uuid"), index=True)
    subnet_uuid: Mapped[str] = mapped_column(String(36), ForeignKey("subnets.uuid"), index=True)
    ip_address: Mapped[str] = mapped_column(String(64))
    mac_address: Mapped[str] = mapped_column(String(17), unique=True)
    # The owner; its row going releases the address (ON DELETE CASCADE).
    container_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("containers.uuid", ondelete="CASCADE"), nullable=True, index=True
    )
    capsule_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("capsules.uuid", ondelete="CASCADE"), nullable=True, index=True
    )
    device_owner: Mapped[str] = mapped_column(String(64), default="compute:dockyard")
    security_groups: Mapped[list[str]] = mapped_column(JSON, default=list)  # group uuids
    fixed: Mapped[bool] = mapped_column(Boolean, default=False)  # the user chose the address


class SecurityGroupRow(_Stamped, Base):
    __tablename__ = "security_groups"
    __table_args__ = (
        Index(
            "uq_security_groups_project_default", "project_id", unique=True,
            postgresql_where=text(DEFAULT_GROUP_WHERE), sqlite_where=text(DEFAULT_GROUP_WHERE),
        ),
    )  # fmt: skip

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)
    # Zun's per-container group for exposed_ports: it goes with its container.
    container_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("containers.uuid", ondelete="CASCADE"), nullable=True, index=True
    )
    revision_number: Mapped[int] = mapped_column(Integer, default=0)


class SecurityGroupRuleRow(Base):
    __tablename__ = "security_group_rules"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    security_group_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey("security_groups.uuid", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(8), default="IPv4")
    protocol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    remote_group_uuid: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("security_groups.uuid", ondelete="CASCADE"), nullable=True
    )
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ContainerNetworkRow(_Stamped, Base):
    """Zun's `network` object (/v1/networks): a name for a Neutron network's use by Zun."""

    __tablename__ = "container_networks"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    neutron_net_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("networks.uuid", ondelete="CASCADE"), index=True
    )
    # True: the network was made for this object (no neutron_net_id given) and goes with it.
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
