"""a partial index of the containers waiting for a host (the batch scheduler's queue)

Revision ID: 0005_pending_containers_index
Revises: 0004_host_identity
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_pending_containers_index"
down_revision = "0004_host_identity"
branch_labels = None
depends_on = None

PENDING_WHERE = "host_uuid IS NULL AND status = 'Creating'"


def upgrade() -> None:
    op.create_index(
        "ix_containers_pending",
        "containers",
        ["created_at", "uuid"],
        postgresql_where=sa.text(PENDING_WHERE),
        sqlite_where=sa.text(PENDING_WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_containers_pending", table_name="containers")
