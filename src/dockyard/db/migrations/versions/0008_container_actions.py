"""container actions and events: what each request did to a container

Revision ID: 0008_container_actions
Revises: 0007_clusters
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_container_actions"
down_revision = "0007_clusters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "container_actions",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("container_uuid", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finish_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_container_actions")),
    )
    with op.batch_alter_table("container_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_container_actions_container_request",
            ["container_uuid", "request_id"],
            unique=False,
        )
    op.create_table(
        "container_action_events",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("action_uuid", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=255), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finish_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["action_uuid"],
            ["container_actions.uuid"],
            name=op.f("fk_container_action_events_action_uuid_container_actions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_container_action_events")),
    )
    with op.batch_alter_table("container_action_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_container_action_events_action_uuid"), ["action_uuid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("container_action_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_container_action_events_action_uuid"))
    op.drop_table("container_action_events")
    with op.batch_alter_table("container_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_container_actions_container_request")
    op.drop_table("container_actions")
