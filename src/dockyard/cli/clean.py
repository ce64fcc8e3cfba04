"""`dockyard clean`: remove what `dockyard serve` left behind, to start again from nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from dockyard.agent.identity import IdentityStore
from dockyard.errors import DockyardError
from dockyard.settings import Settings


@click.command()
@click.option("--data-dir", default=None, help="The data directory `dockyard serve` used.")
@click.option("--yes", is_flag=True, help="Do not ask before removing.")
def clean(data_dir: str | None, yes: bool) -> None:
    """Remove the engine objects and the database of a stopped `dockyard serve`.

    Containers outlive Dockyard (stop it with Ctrl-C and they keep running; the next start
    takes them over). This removes them, the sandboxes (pool ones too) and volumes of every
    host in the data directory's database, then the database and the agent's stored
    identity. Stop Dockyard first.
    """
    from dockyard.cli.server import load_settings

    settings = load_settings(data_dir=data_dir)
    if settings.database.url:
        raise click.ClickException(
            "clean is for the SQLite database of `dockyard serve`; DOCKYARD_DATABASE__URL is set"
        )
    database = settings.data_dir / "dockyard.db"
    if not database.exists():
        click.echo(f"Nothing to clean: no database in {settings.data_dir}.")
        return
    if not yes:
        click.confirm(f"Remove every container of {database} and the database itself?", abort=True)
    try:
        removed = asyncio.run(_remove_engine_objects(settings))
    except DockyardError as exc:
        raise click.ClickException(f"could not clean: {exc}") from None
    for path in _database_files(database):
        path.unlink(missing_ok=True)
    # The agent's stored identity names a host of the database just removed: useless now.
    IdentityStore(settings.agent.state_dir or settings.data_dir / "agent").clear()
    click.echo(f"Removed {removed} engine objects and the database in {settings.data_dir}.")


async def _remove_engine_objects(settings: Settings) -> int:
    from dockyard.db.engine import registered_host_uuids
    from dockyard.runtime.base import remove_host_objects
    from dockyard.runtime.docker import DockerRuntime

    runtime = DockerRuntime(settings.agent.docker_url)
    try:
        hosts = await registered_host_uuids(settings.database_url())
        return sum([await asyncio.to_thread(remove_host_objects, runtime, h) for h in hosts])
    finally:
        runtime.close()


def _database_files(database: Path) -> list[Path]:
    return [database, *(database.with_name(database.name + s) for s in ("-wal", "-shm"))]
