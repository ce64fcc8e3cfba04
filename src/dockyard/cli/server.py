"""`dockyard serve`, `dockyard api` and `dockyard agent`; the heavy parts load only when run."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import click

from dockyard.settings import Settings


def _settings(**overrides: Any) -> Settings:
    settings = Settings()
    if overrides.get("data_dir"):
        settings.data_dir = Path(overrides["data_dir"])
    if overrides.get("host"):
        settings.api.host = overrides["host"]
    if overrides.get("port") is not None:
        settings.api.port = overrides["port"]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port of the API (default 9517).")
@click.option("--data-dir", default=None, help="Directory for SQLite and local state.")
def serve(host: str | None, port: int | None, data_dir: str | None) -> None:
    """Run the control plane and a local agent in one process (SQLite, local engine)."""
    from dockyard.cli.processes import serve_all

    asyncio.run(serve_all(_settings(host=host, port=port, data_dir=data_dir)))


@click.command()
@click.option("--host", default=None, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port of the API.")
@click.option("--data-dir", default=None, help="Directory for local state.")
def api(host: str | None, port: int | None, data_dir: str | None) -> None:
    """Run the control plane only (agents connect to it over HTTP)."""
    from dockyard.cli.processes import serve_api

    asyncio.run(serve_api(_settings(host=host, port=port, data_dir=data_dir)))


@click.command()
@click.option("--control-plane", default=None, help="URL of the control plane.")
def agent(control_plane: str | None) -> None:
    """Run a host agent against a control plane."""
    from dockyard.cli.processes import serve_agent

    settings = _settings()
    if control_plane:
        settings.agent.control_plane_url = control_plane
    if not settings.agent.control_plane_url:
        raise click.UsageError("--control-plane (or DOCKYARD_AGENT__CONTROL_PLANE_URL) is required")
    asyncio.run(serve_agent(settings))
