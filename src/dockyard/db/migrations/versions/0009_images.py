"""images: an image pulled onto one host, with its pull's state

Revision ID: 0009_images
Revises: 0008_container_actions
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_images"
down_revision = "0008_container_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("host_uuid", sa.String(length=36), nullable=False),
        sa.Column("repo", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("image_id", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("progress_current", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=False),
        sa.Column("image_pull_policy", sa.String(length=32), nullable=True),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_uuid"],
            ["hosts.uuid"],
            name=op.f("fk_images_host_uuid_hosts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_images")),
        sa.UniqueConstraint("host_uuid", "repo", "tag", name="uq_images_host_repo_tag"),
    )
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_images_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_images_host_uuid"), ["host_uuid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_images_host_uuid"))
        batch_op.drop_index(batch_op.f("ix_images_created_at"))
    op.drop_table("images")
