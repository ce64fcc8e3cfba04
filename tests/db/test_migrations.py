"""The Alembic tree builds the whole schema, and the models agree with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from dockyard.db.engine import alembic_config, sync_url, upgrade_to_head
from dockyard.db.tables import Base
from tests.support.database import fresh_database, fresh_postgres


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


def test_replicas_starting_together_on_an_empty_postgresql_migrate_it_once(
    tmp_path: Path,
) -> None:
    """Several processes upgrade at once: one runs the migrations, the others wait for the
    advisory lock and then find the schema at head (without it they collide on CREATE)."""
    script = (
        "import sys; from dockyard.db.engine import upgrade_to_head; upgrade_to_head(sys.argv[1])"
    )
    with fresh_postgres() as url:
        processes = [
            subprocess.Popen([sys.executable, "-c", script, url], stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1] for p in processes]
        assert [p.returncode for p in processes] == [0] * 4, errors
        engine = create_engine(sync_url(url))
        try:
            with engine.connect() as conn:
                versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
                head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        finally:
            engine.dispose()
    assert versions == [(head,)]
