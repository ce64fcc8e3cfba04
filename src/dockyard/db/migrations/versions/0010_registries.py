"""registries: a project's private registries, passwords encrypted

Revision ID: 0010_registries
Revises: 0009_images
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_registries"
down_revision = "0009_images"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registries",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("username", sa.String(length=255), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_registries")),
    )
    with op.batch_alter_table("registries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registries_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_registries_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("registries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registries_project_id"))
        batch_op.drop_index(batch_op.f("ix_registries_created_at"))
    op.drop_table("registries")
