"""host identity (a hashed credential per host) and Zun's service fields on hosts

Revision ID: 0004_host_identity
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_host_identity"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        # NULL for hosts registered before credentials existed: the first agent that joins
        # with that host name adopts the row (see services/hostidentity.py).
        batch.add_column(sa.Column("credential_hash", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("forced_down", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("disabled_reason", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("report_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.create_index("ix_hosts_credential_hash", ["credential_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("hosts") as batch:
        batch.drop_index("ix_hosts_credential_hash")
        batch.drop_column("report_count")
        batch.drop_column("disabled_reason")
        batch.drop_column("forced_down")
        batch.drop_column("credential_hash")
