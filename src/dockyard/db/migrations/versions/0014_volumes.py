"""volumes: a project's named local volumes and the containers that mount them

Revision ID: 0014_volumes
Revises: 0013_container_rebuild
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_volumes"
down_revision = "0013_container_rebuild"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "volumes",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("backend", sa.String(length=32), nullable=False),
        sa.Column("engine_name", sa.String(length=255), nullable=False),
        sa.Column("host_uuid", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_uuid"],
            ["hosts.uuid"],
            name=op.f("fk_volumes_host_uuid_hosts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_volumes")),
        sa.UniqueConstraint("project_id", "name", name="uq_volumes_project_name"),
    )
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volumes_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_volumes_host_uuid"), ["host_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_volumes_project_id"), ["project_id"], unique=False)
    op.create_table(
        "volume_attachments",
        sa.Column("volume_uuid", sa.String(length=36), nullable=False),
        sa.Column("container_uuid", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=4096), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_uuid"],
            ["containers.uuid"],
            name=op.f("fk_volume_attachments_container_uuid_containers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["volume_uuid"],
            ["volumes.uuid"],
            name=op.f("fk_volume_attachments_volume_uuid_volumes"),
        ),
        sa.PrimaryKeyConstraint(
            "volume_uuid", "container_uuid", name=op.f("pk_volume_attachments")
        ),
    )
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volume_attachments_container_uuid"), ["container_uuid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("volume_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_attachments_container_uuid"))
    op.drop_table("volume_attachments")
    with op.batch_alter_table("volumes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volumes_project_id"))
        batch_op.drop_index(batch_op.f("ix_volumes_host_uuid"))
        batch_op.drop_index(batch_op.f("ix_volumes_created_at"))
    op.drop_table("volumes")
