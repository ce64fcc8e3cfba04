"""stream_tokens: single-use tokens of exec and attach console URLs

Revision ID: 0011_stream_tokens
Revises: 0010_registries
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_stream_tokens"
down_revision = "0010_registries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stream_tokens",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("container_uuid", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("exec_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_stream_tokens")),
    )
    with op.batch_alter_table("stream_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stream_tokens_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stream_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stream_tokens_expires_at"))
    op.drop_table("stream_tokens")
