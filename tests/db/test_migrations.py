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
