"""hosts: network_touched, the watch revision of the last change that may move its networks

Revision ID: 0017_host_network_touched
Revises: 0016_host_cpu_observed
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_host_network_touched"
down_revision = "0016_host_cpu_observed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("network_touched", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("network_touched")
