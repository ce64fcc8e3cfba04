"""container clusters: profiles, policies, clusters, nodes, bindings, actions, events, receivers

Revision ID: 0007_clusters
Revises: 0006_container_spec
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_clusters"
down_revision = "0006_container_spec"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster_actions",
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=36), nullable=False),
        sa.Column("cluster_id", sa.String(length=36), nullable=True),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("start_time", sa.Float(), nullable=True),
        sa.Column("end_time", sa.Float(), nullable=True),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_actions")),
    )
    with op.batch_alter_table("cluster_actions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cluster_actions_cluster_status", ["cluster_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cluster_actions_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cluster_actions_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "cluster_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("oid", sa.String(length=36), nullable=False),
        sa.Column("oname", sa.String(length=255), nullable=False),
        sa.Column("otype", sa.String(length=16), nullable=False),
        sa.Column("cluster_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("meta_data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_events")),
    )
    with op.batch_alter_table("cluster_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cluster_events_cluster_id"), ["cluster_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cluster_events_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cluster_events_timestamp"), ["timestamp"], unique=False
        )

    op.create_table(
        "cluster_policies",
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_policies")),
    )
    with op.batch_alter_table("cluster_policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cluster_policies_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cluster_policies_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "cluster_profiles",
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("meta_data", sa.JSON(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_profiles")),
    )
    with op.batch_alter_table("cluster_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cluster_profiles_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cluster_profiles_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "cluster_receivers",
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("cluster_id", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_receivers")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_cluster_receivers_secret_hash")),
    )
    with op.batch_alter_table("cluster_receivers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cluster_receivers_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cluster_receivers_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "clusters",
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("desired_capacity", sa.Integer(), nullable=False),
        sa.Column("min_size", sa.Integer(), nullable=False),
        sa.Column("max_size", sa.Integer(), nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("meta_data", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("init_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["cluster_profiles.id"],
            name=op.f("fk_clusters_profile_id_cluster_profiles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clusters")),
    )
    with op.batch_alter_table("clusters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clusters_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_clusters_project_id"), ["project_id"], unique=False)

    op.create_table(
        "cluster_nodes",
        sa.Column("cluster_id", sa.String(length=36), nullable=True),
        sa.Column("profile_id", sa.String(length=36), nullable=False),
        sa.Column("physical_id", sa.String(length=36), nullable=True),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("meta_data", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("tainted", sa.Boolean(), nullable=False),
        sa.Column("init_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"], ["clusters.id"], name=op.f("fk_cluster_nodes_cluster_id_clusters")
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["cluster_profiles.id"],
            name=op.f("fk_cluster_nodes_profile_id_cluster_profiles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_nodes")),
    )
    with op.batch_alter_table("cluster_nodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cluster_nodes_cluster_id"), ["cluster_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cluster_nodes_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cluster_nodes_physical_id"), ["physical_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cluster_nodes_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "cluster_policy_bindings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("cluster_id", sa.String(length=36), nullable=False),
        sa.Column("policy_id", sa.String(length=36), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["clusters.id"],
            name=op.f("fk_cluster_policy_bindings_cluster_id_clusters"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["cluster_policies.id"],
            name=op.f("fk_cluster_policy_bindings_policy_id_cluster_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_policy_bindings")),
        sa.UniqueConstraint("cluster_id", "policy_id", name="uq_cluster_policy_bindings_pair"),
    )
    with op.batch_alter_table("cluster_policy_bindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cluster_policy_bindings_cluster_id"), ["cluster_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cluster_policy_bindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_policy_bindings_cluster_id"))

    op.drop_table("cluster_policy_bindings")
    with op.batch_alter_table("cluster_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_nodes_project_id"))
        batch_op.drop_index(batch_op.f("ix_cluster_nodes_physical_id"))
        batch_op.drop_index(batch_op.f("ix_cluster_nodes_name"))
        batch_op.drop_index(batch_op.f("ix_cluster_nodes_cluster_id"))

    op.drop_table("cluster_nodes")
    with op.batch_alter_table("clusters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clusters_project_id"))
        batch_op.drop_index(batch_op.f("ix_clusters_name"))

    op.drop_table("clusters")
    with op.batch_alter_table("cluster_receivers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_receivers_project_id"))
        batch_op.drop_index(batch_op.f("ix_cluster_receivers_name"))

    op.drop_table("cluster_receivers")
    with op.batch_alter_table("cluster_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_profiles_project_id"))
        batch_op.drop_index(batch_op.f("ix_cluster_profiles_name"))

    op.drop_table("cluster_profiles")
    with op.batch_alter_table("cluster_policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_policies_project_id"))
        batch_op.drop_index(batch_op.f("ix_cluster_policies_name"))

    op.drop_table("cluster_policies")
    with op.batch_alter_table("cluster_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_events_timestamp"))
        batch_op.drop_index(batch_op.f("ix_cluster_events_project_id"))
        batch_op.drop_index(batch_op.f("ix_cluster_events_cluster_id"))

    op.drop_table("cluster_events")
    with op.batch_alter_table("cluster_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_actions_project_id"))
        batch_op.drop_index(batch_op.f("ix_cluster_actions_name"))
        batch_op.drop_index("ix_cluster_actions_cluster_status")

    op.drop_table("cluster_actions")
