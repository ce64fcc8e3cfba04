"""What every `dockyard` command shares: the --url/--token/--format options, the client
they open, the table-or-JSON choice, and one way to fail (a line on stderr, exit 1).

Apart from the containers commands because every command group (images, volumes, networks,
clusters, consoles) is built on these, and none of them is about containers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from dockyard.cli import output
from dockyard.cli.apiclient import open_client
from dockyard.client.containers import ClientError, ContainersClient

DEFAULT_URL = "http://127.0.0.1:9517"
# Everything after IMAGE (or after the container ID for exec) belongs to the container.
PASS_THROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": False}

F = TypeVar("F", bound=Callable[..., Any])
COMMANDS: list[click.Command] = []  # the top-level commands `command` made; main adds them


class ApiCommand(click.Command):
    """A command whose client errors end as one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ClientError as exc:
            fail(str(exc))


def fail(message: str) -> NoReturn:
    """Print `Error: <message>` on stderr and exit 1."""
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(1)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.meta[f"dockyard.{param.name}"] = value
    return value


def api_options(func: F) -> F:
    """--url, --token and --format, kept in the context for `client()` and `is_json()`."""
    options = [
        click.option(
            "--url", envvar="DOCKYARD_URL", default=DEFAULT_URL, show_default=True,
            expose_value=False, callback=_remember, help="Dockyard API endpoint [DOCKYARD_URL].",
        ),
        click.option(
            "--token", envvar="DOCKYARD_TOKEN", default=None, expose_value=False,
            callback=_remember, help="Auth token sent as X-Auth-Token [DOCKYARD_TOKEN].",
        ),
        click.option(
            "--format", "format", type=click.Choice(["table", "json"]), envvar="DOCKYARD_FORMAT",
            default="table", show_default=True, expose_value=False, callback=_remember,
            help="Human table, or the API's JSON [DOCKYARD_FORMAT].",
        ),
    ]  # fmt: skip
    for option in options:
        func = option(func)
    return func


def command(name: str, **settings: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """A containers command with the API options, collected for `register`."""

    def decorate(func: Callable[..., Any]) -> click.Command:
        cmd = click.command(name, cls=ApiCommand, context_settings=settings)(api_options(func))
        COMMANDS.append(cmd)
        return cmd

    return decorate


def client() -> ContainersClient:
    """The API client for the current command, closed with its context."""
    return open_client(ContainersClient)


def is_json() -> bool:
    """True when the command should print the API's JSON."""
    return bool(click.get_current_context().meta.get("dockyard.format") == "json")


def print_container(container: dict[str, Any]) -> None:
    """One container: the API's JSON, or a FIELD / VALUE table."""
    click.echo(output.to_json(container) if is_json() else output.fields_table(container))


def argv(args: Sequence[str]) -> list[str]:
    """The container's command line; a leading `--` only separated it from our options."""
    words = list(args)
    return words[1:] if words[:1] == ["--"] else words
