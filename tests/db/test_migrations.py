"""The Alembic tree builds the whole schema, and the models agree with it."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from dockyard.db.engine import sync_url, upgrade_to_head
from dockyard.db.tables import Base
from tests.support.database import fresh_database


def test_empty_database_upgrades_to_head_and_matches_the_models(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        upgrade_to_head(url)
        engine = create_engine(sync_url(url))
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                diff = compare_metadata(context, Base.metadata)
        finally:
            engine.dispose()
    assert {"hosts", "containers", "alembic_version"} <= tables
    assert diff == []


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        upgrade_to_head(url)
        upgrade_to_head(url)


def test_existing_containers_survive_the_sandbox_migration(tmp_path: Path) -> None:
    from alembic import command

    from dockyard.db.engine import alembic_config

    with fresh_database(tmp_path) as url:
        command.upgrade(alembic_config(url), "0001")
        engine = create_engine(sync_url(url))
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    "INSERT INTO containers (uuid, project_id, user_id, name, image, environment,"
                    " labels, cpu, memory, disk, restart_policy, auto_remove, auto_heal,"
                    " interactive, tty, privileged, exposed_ports, image_driver, cpu_policy,"
                    " hints, desired_state, generation, state_requested_at, revision, status,"
                    " observed_generation, created_at, updated_at) VALUES ('u1', 'p', 'u', 'old',"
                    " 'img', '{}', '{}', 1.0, 64, 0, '{}', false, false, false, false, false,"
                    " '[]', 'docker', 'shared', '{}', 'running', 1, CURRENT_TIMESTAMP, 0,"
                    " 'Running', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            upgrade_to_head(url)
            with engine.connect() as conn:
                row = conn.exec_driver_sql(
                    "SELECT container_type, capsule_order, sandbox_uuid FROM containers"
                ).one()
        finally:
            engine.dispose()
    assert tuple(row) == ("container", 0, None)
