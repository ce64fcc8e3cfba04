"""Migration 0003 starts each project's quota usage from the containers it already has."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from dockyard.db.engine import alembic_config, sync_url, upgrade_to_head
from tests.support.database import fresh_database

_CONTAINER = (
    "INSERT INTO containers (uuid, project_id, user_id, name, image, environment, labels, cpu,"
    " memory, disk, restart_policy, auto_remove, auto_heal, interactive, tty, privileged,"
    " exposed_ports, image_driver, cpu_policy, hints, desired_state, generation,"
    " state_requested_at, revision, status, observed_generation, created_at, updated_at,"
    " capsule_uuid) VALUES ('{uuid}', '{project}', 'u', '{uuid}', 'img', '{{}}', '{{}}', {cpu},"
    " {memory}, 0, '{{}}', false, false, false, false, false, '[]', 'docker', 'shared', '{{}}',"
    " 'running', 1, CURRENT_TIMESTAMP, 0, 'Running', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
    " {capsule})"
)
_CAPSULE = (
    "INSERT INTO capsules (uuid, project_id, user_id, name, labels, annotations, restart_policy,"
    " template, volumes, cpu, memory, desired_state, status, created_at, updated_at) VALUES"
    " ('cap', 'p1', 'u', 'cap', '{}', '{}', '{}', '{}', '[]', 1.0, 64, 'running', 'Running',"
    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


def test_usage_starts_from_existing_containers_capsule_members_included(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        command.upgrade(alembic_config(url), "0002")
        engine = create_engine(sync_url(url))
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(_CAPSULE)
                for uuid, project, cpu, memory, capsule in (
                    ("a", "p1", 0.1, 64, "NULL"),
                    ("b", "p1", 0.2, 128, "NULL"),
                    ("c", "p1", 1.0, 512, "'cap'"),  # a capsule member counts too
                    ("d", "p2", 2.0, 256, "NULL"),
                ):
                    conn.exec_driver_sql(_CONTAINER.format(
                        uuid=uuid, project=project, cpu=cpu, memory=memory, capsule=capsule
                    ))  # fmt: skip
            upgrade_to_head(url)
            with engine.connect() as conn:
                rows = conn.exec_driver_sql(
                    "SELECT project_id, containers, cpu_millis, memory, disk FROM quota_usages"
                    " ORDER BY project_id"
                ).all()
        finally:
            engine.dispose()
    assert [tuple(r) for r in rows] == [("p1", 3, 1300, 704, 0), ("p2", 1, 2000, 256, 0)]
