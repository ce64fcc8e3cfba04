"""networks: tenant networks, subnets, pools, ports, security groups; hosts' tunnel address

Revision ID: 0012_networks
Revises: 0011_stream_tokens
Create Date: 2026-12-02
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012_networks"
down_revision = "0011_stream_tokens"
branch_labels = None
depends_on = None


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _owned(name: str, *columns: Any, stamped: bool = True) -> None:
    extra = _stamps() if stamped else []
    op.create_table(
        name,
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        *columns,
        *extra,
        sa.PrimaryKeyConstraint("uuid", name=op.f(f"pk_{name}")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_project_id"), ["project_id"], unique=False)
        if stamped:
            batch_op.create_index(batch_op.f(f"ix_{name}_created_at"), ["created_at"])


def _fk(
    column: str, table: str, owner: str, ondelete: str | None = None, *, null: bool = True
) -> sa.Column[Any]:
    return sa.Column(
        column, sa.String(length=36),
        sa.ForeignKey(f"{table}.uuid", name=op.f(f"fk_{owner}_{column}_{table}"),
                      ondelete=ondelete),
        nullable=null,
    )  # fmt: skip


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def upgrade() -> None:
    text, num, flag = sa.String(length=255), sa.Integer(), sa.Boolean()
    _owned(
        "networks",
        sa.Column("name", text, nullable=False),
        sa.Column("description", text, nullable=False),
        sa.Column("vni", num, nullable=False),
        sa.Column("admin_state_up", flag, nullable=False),
        sa.Column("shared", flag, nullable=False),
        sa.Column("external", flag, nullable=False),
        sa.Column("mtu", num, nullable=False),
        sa.Column("is_default", flag, nullable=False),
        sa.Column("revision_number", num, nullable=False),
        sa.UniqueConstraint("vni", name=op.f("uq_networks_vni")),
    )
    _owned(
        "subnet_pools",
        sa.Column("name", text, nullable=False),
        sa.Column("description", text, nullable=False),
        sa.Column("prefixes", sa.JSON(), nullable=False),
        sa.Column("default_prefixlen", num, nullable=False),
        sa.Column("min_prefixlen", num, nullable=False),
        sa.Column("max_prefixlen", num, nullable=False),
        sa.Column("ip_version", num, nullable=False),
        sa.Column("shared", flag, nullable=False),
        sa.Column("is_default", flag, nullable=False),
        sa.Column("revision_number", num, nullable=False),
    )
    _owned(
        "subnets",
        _fk("network_uuid", "networks", "subnets", "CASCADE", null=False),
        _fk("subnetpool_uuid", "subnet_pools", "subnets"),
        sa.Column("name", text, nullable=False),
        sa.Column("description", text, nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("gateway_ip", sa.String(length=64), nullable=True),
        sa.Column("ip_version", num, nullable=False),
        sa.Column("enable_dhcp", flag, nullable=False),
        sa.Column("allocation_pools", sa.JSON(), nullable=False),
        sa.Column("dns_nameservers", sa.JSON(), nullable=False),
        sa.Column("revision_number", num, nullable=False),
    )
    _index("subnets", "network_uuid", "subnetpool_uuid")
    _owned(
        "security_groups",
        sa.Column("name", text, nullable=False),
        sa.Column("description", text, nullable=False),
        sa.Column("stateful", flag, nullable=False),
        _fk("container_uuid", "containers", "security_groups", "CASCADE"),
        sa.Column("revision_number", num, nullable=False),
    )
    _index("security_groups", "container_uuid")
    _owned(
        "security_group_rules",
        _fk(
            "security_group_uuid", "security_groups", "security_group_rules", "CASCADE", null=False
        ),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=32), nullable=True),
        sa.Column("port_range_min", num, nullable=True),
        sa.Column("port_range_max", num, nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        _fk("remote_group_uuid", "security_groups", "security_group_rules", "CASCADE"),
        sa.Column("description", text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        stamped=False,
    )
    _index("security_group_rules", "security_group_uuid")
    _owned(
        "ports",
        sa.Column("name", text, nullable=False),
        _fk("network_uuid", "networks", "ports", null=False),
        _fk("subnet_uuid", "subnets", "ports", null=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.Column("mac_address", sa.String(length=17), nullable=False),
        _fk("container_uuid", "containers", "ports", "CASCADE"),
        _fk("capsule_uuid", "capsules", "ports", "CASCADE"),
        sa.Column("device_owner", sa.String(length=64), nullable=False),
        sa.Column("security_groups", sa.JSON(), nullable=False),
        sa.Column("fixed", flag, nullable=False),
        sa.UniqueConstraint("mac_address", name=op.f("uq_ports_mac_address")),
        sa.UniqueConstraint("subnet_uuid", "ip_address", name=op.f("uq_ports_subnet_uuid")),
    )
    _index("ports", "network_uuid", "subnet_uuid", "container_uuid", "capsule_uuid")
    _owned(
        "container_networks",
        sa.Column("user_id", text, nullable=False),
        sa.Column("name", text, nullable=False),
        _fk("neutron_net_id", "networks", "container_networks", "CASCADE", null=False),
        sa.Column("managed", flag, nullable=False),
    )
    _index("container_networks", "neutron_net_id")
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tunnel_ip", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("network_revision", num, server_default="0", nullable=False))
        batch_op.add_column(sa.Column("network_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("network_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        for column in ("network_ids", "network_digest", "network_revision", "tunnel_ip"):
            batch_op.drop_column(column)
    for table in ("container_networks", "ports", "security_group_rules", "security_groups",
                  "subnets", "subnet_pools", "networks"):  # fmt: skip
        op.drop_table(table)
