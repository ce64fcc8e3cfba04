"""`dockyard serve`, `dockyard api` and `dockyard agent`; the heavy parts load only when run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from dockyard.settings import ConfigError, Settings

AUTH_OPTION = click.option(
    "--auth",
    type=click.Choice(["noauth", "keystone", "tokens"]),
    default=None,
    help="Auth backend (default noauth) [DOCKYARD_AUTH__BACKEND]; see README.",
)


def _settings(**overrides: Any) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:  # named by variable, without values: some are secrets
        problems = "; ".join(
            f"DOCKYARD_{'__'.join(str(p) for p in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        raise click.ClickException(f"invalid settings: {problems}") from None
    if overrides.get("auth"):
        settings.auth.backend = overrides["auth"]
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
    # httpcore's debug lines carry raw headers: Keystone tokens must not reach the log.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return settings


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run a server; unusable settings end it with a one-line message, not a traceback."""
    try:
        asyncio.run(main)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port of the API (default 9517).")
@click.option("--data-dir", default=None, help="Directory for SQLite and local state.")
@AUTH_OPTION
def serve(host: str | None, port: int | None, data_dir: str | None, auth: str | None) -> None:
    """Run the control plane and a local agent in one process (SQLite, local engine)."""
    from dockyard.cli.processes import serve_all

    _run(serve_all(_settings(host=host, port=port, data_dir=data_dir, auth=auth)))


@click.command()
@click.option("--host", default=None, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port of the API.")
@click.option("--data-dir", default=None, help="Directory for local state.")
@AUTH_OPTION
def api(host: str | None, port: int | None, data_dir: str | None, auth: str | None) -> None:
    """Run the control plane only (agents connect to it over HTTP)."""
    from dockyard.cli.processes import serve_api

    _run(serve_api(_settings(host=host, port=port, data_dir=data_dir, auth=auth)))


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


@click.command("policy-defaults")
def policy_defaults() -> None:
    """Print every policy rule with its default, as YAML to start a policy file from."""
    from dockyard.services.policy import defaults_yaml

    click.echo(defaults_yaml(), nl=False)
