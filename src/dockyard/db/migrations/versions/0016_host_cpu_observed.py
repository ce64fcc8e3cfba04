"""hosts: cpu_observed, the CPUs its containers used lately as its agent measured them

Revision ID: 0016_host_cpu_observed
Revises: 0015_project_defaults_unique
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_host_cpu_observed"
down_revision = "0015_project_defaults_unique"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cpu_observed", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hosts", schema=None) as batch_op:
        batch_op.drop_column("cpu_observed")
