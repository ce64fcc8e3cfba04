"""`dockyard serve`, `dockyard api` and `dockyard agent`; the heavy parts load only when run."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import click
from pydantic import SecretStr, ValidationError

from dockyard.schemas.problems import problem_text
from dockyard.settings import ConfigError, Settings

AUTH_OPTION = click.option(
    "--auth",
    type=click.Choice(["noauth", "keystone", "tokens"]),
    default=None,
    help="Auth backend (default noauth) [DOCKYARD_AUTH__BACKEND]; see README.",
)


def load_settings(**overrides: Any) -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:  # named by variable, without values: some are secrets
        problems = "; ".join(
            f"DOCKYARD_{'__'.join(str(p) for p in error['loc']).upper()}: {problem_text(error)}"
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
    if overrides.get("database_url"):
        settings.database.url = overrides["database_url"]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # uvicorn's start and stop lines come once per server (API, host API); Dockyard says
    # once where it listens and when it is ready. Its errors still show.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    # Of Alembic's lines only "Running upgrade …" is news to an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.migration").addFilter(_only_upgrades)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
    # httpcore's debug lines carry raw headers: Keystone tokens must not reach the log.
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    return settings


def _only_upgrades(record: logging.LogRecord) -> bool:
    return record.getMessage().startswith("Running upgrade")


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

    settings = load_settings(host=host, port=port, data_dir=data_dir, auth=auth)
    _run(serve_all(settings, try_command=_this_command()))


def _this_command() -> str:
    """How to call this CLI: `dockyard` when PATH finds this one, else its path (.venv/bin)."""
    mine = Path(sys.executable).with_name("dockyard")
    found = shutil.which("dockyard")
    if not mine.exists() or (found and Path(found).resolve() == mine.resolve()):
        return "dockyard"
    relative = os.path.relpath(mine)
    return str(mine) if relative.startswith("..") else relative


@click.command()
@click.option("--host", default=None, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port of the API.")
@click.option("--data-dir", default=None, help="Directory for local state.")
@click.option(
    "--join-token", default=None, help="Secret agents present to join [DOCKYARD_AGENT__JOIN_TOKEN]."
)
@click.option(
    "--database-url",
    default=None,
    help="Database URL, e.g. postgresql+psycopg://user@db/dockyard; any number of replicas "
    "may share one PostgreSQL [DOCKYARD_DATABASE__URL] (default: SQLite in the data dir).",
)
@click.option(
    "--no-scheduler",
    "no_scheduler",
    is_flag=True,
    help="Serve the API but leave placement to the other replicas [DOCKYARD_SCHEDULER__ENABLED].",
)
@AUTH_OPTION
def api(
    host: str | None, port: int | None, data_dir: str | None, join_token: str | None,
    database_url: str | None, no_scheduler: bool,
    auth: str | None,
) -> None:  # fmt: skip
    """Run the control plane only (agents connect to it over HTTP)."""
    from dockyard.cli.processes import serve_api

    settings = load_settings(
        host=host, port=port, data_dir=data_dir, database_url=database_url, auth=auth
    )
    if join_token:
        settings.agent.join_token = SecretStr(join_token)
    if no_scheduler:
        settings.scheduler.enabled = False
    _run(serve_api(settings))


@click.command()
@click.option(
    "--control-plane",
    "control_plane",
    multiple=True,
    help="URL of a control-plane replica; repeat for several [DOCKYARD_AGENT__CONTROL_PLANE].",
)
@click.option(
    "--join-token", default=None, help="Secret to join with [DOCKYARD_AGENT__JOIN_TOKEN]."
)
@click.option("--name", default=None, help="Host name to register (default: the OS's).")
@click.option("--state-dir", default=None, help="Where the host identity is kept.")
@click.option(
    "--runtime",
    type=click.Choice(["docker", "fake"]),
    default=None,
    help="docker (default) or fake (hollow hosts).",
)
@click.option("--hosts", type=int, default=None, help="Hosts to run (fake runtime only).")
@click.option("--docker-url", default=None, help="Docker engine URL (default: DOCKER_HOST).")
@click.option("--availability-zone", default=None, help="Availability zone (default nova).")
@click.option("--label", "labels", multiple=True, help="Host label key=value; repeatable.")
@click.option(
    "--hostapi-host", default=None, help="Address the host API listens on and advertises."
)
@click.option("--data-dir", default=None, help="Data directory (default state dir: DIR/agent).")
@click.option(
    "--rotate-credential", is_flag=True, help="Give the stored host(s) a new credential, then exit."
)
def agent(rotate_credential: bool, **options: Any) -> None:  # fmt: skip
    """Run a host agent (or N hollow hosts) against one or more control-plane replicas."""
    from dockyard.cli.processes import rotate_credentials, serve_agent

    settings = load_settings(data_dir=options.pop("data_dir"))
    try:
        _agent_options(settings, options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if not settings.agent.control_plane:
        raise click.UsageError("--control-plane (or DOCKYARD_AGENT__CONTROL_PLANE) is required")
    if rotate_credential:
        rotated: list[str] = []

        async def run() -> None:
            rotated.extend(await rotate_credentials(settings))

        _run(run())
        click.echo(f"rotated the credential of {len(rotated)} host(s): {', '.join(rotated)}")
        return
    _run(serve_agent(settings))


def _agent_options(settings: Settings, options: dict[str, Any]) -> None:
    """Command-line options override the DOCKYARD_AGENT__* settings they name."""
    agent_settings = settings.agent
    if options["control_plane"]:
        agent_settings.control_plane = [url for url in options["control_plane"]]
    if options["join_token"]:
        agent_settings.join_token = SecretStr(options["join_token"])
    if options["labels"]:
        agent_settings.labels = {}
        for pair in options["labels"]:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ValueError(f"--label {pair!r}: expected key=value")
            agent_settings.labels[key] = value
    for name in ("name", "runtime", "hosts", "docker_url", "availability_zone", "hostapi_host"):
        if options[name] is not None:
            setattr(agent_settings, name, options[name])
    if options["state_dir"]:
        agent_settings.state_dir = Path(options["state_dir"])
    if agent_settings.hosts < 1:
        raise ValueError("--hosts must be at least 1")


@click.command("policy-defaults")
def policy_defaults() -> None:
    """Print every policy rule with its default, as YAML to start a policy file from."""
    from dockyard.services.policy import defaults_yaml

    click.echo(defaults_yaml(), nl=False)
