"""quotas, quota classes and per-project usage (usage starts from the existing containers)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quotas",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_quotas")),
    )
    op.create_table(
        "quota_classes",
        sa.Column("class_name", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=32), nullable=False),
        sa.Column("hard_limit", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("class_name", "resource", name=op.f("pk_quota_classes")),
    )
    op.create_table(
        "quota_usages",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("containers", sa.Integer(), nullable=False),
        sa.Column("cpu_millis", sa.BigInteger(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("disk", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_quota_usages")),
    )
    _count_existing_containers()


def _count_existing_containers() -> None:
    # Usage is only ever changed by deltas from now on, so it has to start from what the
    # projects already hold, capsule members included (a capsule must not be a way round
    # the container quota).
    containers = sa.table(
        "containers",
        sa.column("project_id", sa.String()),
        sa.column("cpu", sa.Float()),
        sa.column("memory", sa.Integer()),
        sa.column("disk", sa.Integer()),
    )
    names = ("project_id", "containers", "cpu_millis", "memory", "disk", "updated_at")
    usages = sa.table("quota_usages", *(sa.column(name) for name in names))
    totals = sa.select(
        containers.c.project_id,
        sa.func.count(),
        sa.func.sum(sa.cast(sa.func.round(containers.c.cpu * 1000), sa.Integer())),
        sa.func.sum(containers.c.memory),
        sa.func.sum(containers.c.disk),
        sa.func.current_timestamp(),
    ).group_by(containers.c.project_id)
    op.execute(usages.insert().from_select(list(names), totals))


def downgrade() -> None:
    op.drop_table("quota_usages")
    op.drop_table("quota_classes")
    op.drop_table("quotas")
