"""initial schema: hosts and containers

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("agent_url", sa.String(length=255), nullable=False),
        sa.Column("agent_token", sa.String(length=255), nullable=False),
        sa.Column("cpus", sa.Integer(), nullable=False),
        sa.Column("mem_total", sa.Integer(), nullable=False),
        sa.Column("disk_total", sa.Integer(), nullable=False),
        sa.Column("cpu_used", sa.Float(), nullable=False),
        sa.Column("mem_used", sa.Integer(), nullable=False),
        sa.Column("disk_used", sa.Integer(), nullable=False),
        sa.Column("architecture", sa.String(length=64), nullable=False),
        sa.Column("os_type", sa.String(length=64), nullable=False),
        sa.Column("os", sa.String(length=255), nullable=False),
        sa.Column("kernel_version", sa.String(length=255), nullable=False),
        sa.Column("runtimes", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_hosts")),
        sa.UniqueConstraint("hostname", name=op.f("uq_hosts_hostname")),
    )
    op.create_table(
        "containers",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("image", sa.String(length=255), nullable=False),
        sa.Column("command", sa.JSON(), nullable=True),
        sa.Column("entrypoint", sa.JSON(), nullable=True),
        sa.Column("environment", sa.JSON(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("workdir", sa.String(length=255), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("cpu", sa.Float(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("disk", sa.Integer(), nullable=False),
        sa.Column("restart_policy", sa.JSON(), nullable=False),
        sa.Column("auto_remove", sa.Boolean(), nullable=False),
        sa.Column("auto_heal", sa.Boolean(), nullable=False),
        sa.Column("interactive", sa.Boolean(), nullable=False),
        sa.Column("tty", sa.Boolean(), nullable=False),
        sa.Column("privileged", sa.Boolean(), nullable=False),
        sa.Column("exposed_ports", sa.JSON(), nullable=False),
        sa.Column("healthcheck", sa.JSON(), nullable=True),
        sa.Column("image_pull_policy", sa.String(length=32), nullable=True),
        sa.Column("image_driver", sa.String(length=32), nullable=False),
        sa.Column("runtime", sa.String(length=64), nullable=True),
        sa.Column("cpu_policy", sa.String(length=32), nullable=False),
        sa.Column("hints", sa.JSON(), nullable=False),
        sa.Column("availability_zone", sa.String(length=255), nullable=True),
        sa.Column("requested_host", sa.String(length=255), nullable=True),
        sa.Column("desired_state", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("state_requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reboot_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_timeout", sa.Integer(), nullable=True),
        sa.Column("host_uuid", sa.String(length=36), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("task_state", sa.String(length=32), nullable=True),
        sa.Column("observed_generation", sa.Integer(), nullable=False),
        sa.Column("container_id", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("addresses", sa.JSON(), nullable=True),
        sa.Column("ports", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_uuid"], ["hosts.uuid"], name=op.f("fk_containers_host_uuid_hosts")
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_containers")),
        sa.UniqueConstraint("project_id", "name", name="uq_containers_project_name"),
    )
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_containers_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_containers_host_uuid"), ["host_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_containers_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_containers_revision"), ["revision"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_containers_revision"))
        batch_op.drop_index(batch_op.f("ix_containers_project_id"))
        batch_op.drop_index(batch_op.f("ix_containers_host_uuid"))
        batch_op.drop_index(batch_op.f("ix_containers_created_at"))

    op.drop_table("containers")
    op.drop_table("hosts")
