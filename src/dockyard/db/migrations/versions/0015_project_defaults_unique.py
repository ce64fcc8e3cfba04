"""one default network and one `default` security group per project (partial unique indexes)

Before this, two requests making a project's first container at the same moment (two
replicas on PostgreSQL) could both make them. Duplicates already made are folded first:
the oldest default network stays the default (the others stay as plain networks, their
ports untouched); the oldest `default` group takes over the others' ports and remote-group
rules, and the others go.

Revision ID: 0015_project_defaults_unique
Revises: 0014_volumes
Create Date: 2026-12-02
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0015_project_defaults_unique"
down_revision = "0014_volumes"
branch_labels = None
depends_on = None

NETWORK_WHERE = "is_default"
GROUP_WHERE = "name = 'default'"


def _extras(conn: Any, table: str, where: str) -> list[tuple[str, str]]:
    """(duplicate uuid, the project's oldest uuid) for each project with more than one."""
    # table and where are this module's constants, never input
    query = f"SELECT uuid, project_id FROM {table} WHERE {where} "  # noqa: S608
    rows = conn.execute(sa.text(query + "ORDER BY project_id, created_at, uuid")).all()
    kept: dict[str, str] = {}
    extras = []
    for uuid, project in rows:
        if project in kept:
            extras.append((uuid, kept[project]))
        else:
            kept[project] = uuid
    return extras


def _fold_groups(conn: Any) -> None:
    extras = dict(_extras(conn, "security_groups", GROUP_WHERE))
    if not extras:
        return
    for uuid, groups in conn.execute(sa.text("SELECT uuid, security_groups FROM ports")).all():
        old = json.loads(groups) if isinstance(groups, str) else list(groups or [])
        new = list(dict.fromkeys(extras.get(g, g) for g in old))
        if new != old:
            update = sa.text("UPDATE ports SET security_groups = :g WHERE uuid = :u")
            conn.execute(update.bindparams(sa.bindparam("g", type_=sa.JSON())),
                         {"g": new, "u": uuid})  # fmt: skip
    for extra, kept in extras.items():
        conn.execute(sa.text("DELETE FROM security_group_rules WHERE security_group_uuid = :e"),
                     {"e": extra})  # fmt: skip
        conn.execute(
            sa.text("UPDATE security_group_rules SET remote_group_uuid = :k "
                    "WHERE remote_group_uuid = :e"), {"k": kept, "e": extra},
        )  # fmt: skip
        conn.execute(sa.text("DELETE FROM security_groups WHERE uuid = :e"), {"e": extra})


def upgrade() -> None:
    conn = op.get_bind()
    for extra, _ in _extras(conn, "networks", NETWORK_WHERE):
        conn.execute(sa.text("UPDATE networks SET is_default = :f WHERE uuid = :u"),
                     {"f": False, "u": extra})  # fmt: skip
    _fold_groups(conn)
    op.create_index(
        "uq_networks_project_default", "networks", ["project_id"], unique=True,
        postgresql_where=sa.text(NETWORK_WHERE), sqlite_where=sa.text(NETWORK_WHERE),
    )  # fmt: skip
    op.create_index(
        "uq_security_groups_project_default", "security_groups", ["project_id"], unique=True,
        postgresql_where=sa.text(GROUP_WHERE), sqlite_where=sa.text(GROUP_WHERE),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("uq_security_groups_project_default", table_name="security_groups")
    op.drop_index("uq_networks_project_default", table_name="networks")
