"""sandboxes and capsules (existing containers stay standalone)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandboxes",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=True),
        sa.Column("share_pid", sa.Boolean(), nullable=False),
        sa.Column("auto_delete", sa.Boolean(), nullable=False),
        sa.Column("cpu", sa.Float(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("desired_state", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("host_uuid", sa.String(length=36), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("observed_generation", sa.Integer(), nullable=False),
        sa.Column("container_id", sa.String(length=255), nullable=True),
        sa.Column("addresses", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_uuid"], ["hosts.uuid"], name=op.f("fk_sandboxes_host_uuid_hosts")
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_sandboxes")),
    )
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sandboxes_host_uuid"), ["host_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_sandboxes_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sandboxes_revision"), ["revision"], unique=False)

    op.create_table(
        "capsules",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("restart_policy", sa.JSON(), nullable=False),
        sa.Column("template", sa.JSON(), nullable=False),
        sa.Column("volumes", sa.JSON(), nullable=False),
        sa.Column("cpu", sa.Float(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("sandbox_uuid", sa.String(length=36), nullable=True),
        sa.Column("host_uuid", sa.String(length=36), nullable=True),
        sa.Column("desired_state", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_uuid"], ["hosts.uuid"], name=op.f("fk_capsules_host_uuid_hosts")
        ),
        sa.ForeignKeyConstraint(
            ["sandbox_uuid"], ["sandboxes.uuid"], name=op.f("fk_capsules_sandbox_uuid_sandboxes")
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_capsules")),
        sa.UniqueConstraint("project_id", "name", name="uq_capsules_project_name"),
    )
    with op.batch_alter_table("capsules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_capsules_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_capsules_host_uuid"), ["host_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_capsules_project_id"), ["project_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_capsules_sandbox_uuid"), ["sandbox_uuid"], unique=False
        )

    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sandbox_uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("capsule_uuid", sa.String(length=36), nullable=True))
        batch_op.add_column(
            sa.Column(
                "container_type", sa.String(length=16), nullable=False, server_default="container"
            )
        )
        batch_op.add_column(
            sa.Column("capsule_order", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("volume_mounts", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.create_index(
            batch_op.f("ix_containers_capsule_uuid"), ["capsule_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_containers_sandbox_uuid"), ["sandbox_uuid"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_containers_capsule_uuid_capsules"),
            "capsules",
            ["capsule_uuid"],
            ["uuid"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_containers_sandbox_uuid_sandboxes"),
            "sandboxes",
            ["sandbox_uuid"],
            ["uuid"],
        )


def downgrade() -> None:
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_containers_sandbox_uuid_sandboxes"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_containers_capsule_uuid_capsules"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_containers_sandbox_uuid"))
        batch_op.drop_index(batch_op.f("ix_containers_capsule_uuid"))
        batch_op.drop_column("volume_mounts")
        batch_op.drop_column("capsule_order")
        batch_op.drop_column("container_type")
        batch_op.drop_column("capsule_uuid")
        batch_op.drop_column("sandbox_uuid")

    with op.batch_alter_table("capsules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_capsules_sandbox_uuid"))
        batch_op.drop_index(batch_op.f("ix_capsules_project_id"))
        batch_op.drop_index(batch_op.f("ix_capsules_host_uuid"))
        batch_op.drop_index(batch_op.f("ix_capsules_created_at"))

    op.drop_table("capsules")
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandboxes_revision"))
        batch_op.drop_index(batch_op.f("ix_sandboxes_project_id"))
        batch_op.drop_index(batch_op.f("ix_sandboxes_host_uuid"))

    op.drop_table("sandboxes")
