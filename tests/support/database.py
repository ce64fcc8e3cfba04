"""Fresh databases for db/service tests: SQLite by default, PostgreSQL on request.

Set DOCKYARD_TEST_DATABASE_URL to a PostgreSQL server URL (any database on it, e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/postgres); each test then gets its own new
database on that server, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ENV = "DOCKYARD_TEST_DATABASE_URL"


# Where tests of several replicas find PostgreSQL when ENV is not set (the local server
# `./dev test` machines run); a server that does not answer fails those tests.
LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def fresh_database(tmp_path: Path) -> Iterator[str]:
    """Yield the async URL of an empty database."""
    server = os.environ.get(ENV)
    if not server:
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    with _new_postgres_database(server) as url:
        yield url


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """Yield the URL of an empty PostgreSQL database (for what only PostgreSQL can do:
    several replicas), on ENV's server or else the local one."""
    with _new_postgres_database(os.environ.get(ENV) or LOCAL_POSTGRES) as url:
        yield url


@contextmanager
def _new_postgres_database(server: str) -> Iterator[str]:
    name = f"dockyard_test_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(server).set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def database_exists(url: str) -> bool:
    """Whether the database of a PostgreSQL URL is still there (cleanup checks)."""
    parsed = make_url(url).set(drivername="postgresql+psycopg")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            return conn.execute(query, {"name": parsed.database}).first() is not None
    finally:
        admin.dispose()
