"""containers: rebuild_generation, the generation at which a rebuild was asked for

Revision ID: 0013_container_rebuild
Revises: 0012_networks
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_container_rebuild"
down_revision = "0012_networks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rebuild_generation", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("containers", schema=None) as batch_op:
        batch_op.drop_column("rebuild_generation")
