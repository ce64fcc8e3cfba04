"""Alembic environment: runs migrations on the synchronous driver of the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from dockyard.db.tables import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # set by db/engine.upgrade_to_head
        raise RuntimeError("alembic ran without sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
