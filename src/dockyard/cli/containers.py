"""`dockyard run|create|list|show|delete|start|stop|…`: containers through the Zun API."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from dockyard.cli import output, terminal
from dockyard.cli.apiclient import open_client
from dockyard.cli.progress import show_run_pull
from dockyard.client.containers import ClientError, ContainersClient, ServerUnreachable

DEFAULT_URL = "http://127.0.0.1:9517"
# A started container has settled once it runs, or has already exited or failed.
RUN_SETTLED = ("Running", "Stopped", "Error", "Dead")
WAIT_SLACK = 60.0
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
# Everything after IMAGE (or after the container ID for exec) belongs to the container.
PASS_THROUGH = {"ignore_unknown_options": True, "allow_interspersed_args": False}

F = TypeVar("F", bound=Callable[..., Any])
# One container action: returns the status it waited for, or None if only accepted.
Action = Callable[[str], str | None]
COMMANDS: list[click.Command] = []


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


def register(group: click.Group) -> None:
    """Add every containers command (and the `ls` alias of `list`) to the group."""
    for cmd in COMMANDS:
        group.add_command(cmd)
    group.add_command(list_containers, name="ls")


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


# --- create / run -------------------------------------------------------------------------


def _pairs(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> dict[str, str]:
    """KEY=VALUE items; a bare KEY takes its value from our environment, as docker does."""
    found: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", ctx, param)
        if sep:
            found[key] = value
        elif key in os.environ:
            found[key] = os.environ[key]
    return found


def _restart(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """no|always|unless-stopped|on-failure[:N] as Zun's restart_policy object."""
    if value is None:
        return None
    name, _, count = value.partition(":")
    if name not in RESTART_POLICIES or (count and (name != "on-failure" or not count.isdigit())):
        raise click.BadParameter("use no, always, unless-stopped or on-failure[:N]", ctx, param)
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def _volumes(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> Any:
    """-v NAME:/PATH (a named volume) or -v SIZE:/PATH (GiB of a new one) as Zun's mounts."""
    mounts = []
    for item in value:
        source, _, destination = item.partition(":")
        if not source or not destination.startswith("/"):
            raise click.BadParameter("use NAME:/PATH or SIZE:/PATH (SIZE in GiB)", ctx, param)
        key = "size" if source.isdigit() else "source"
        mounts.append({key: int(source) if key == "size" else source, "destination": destination})
    return mounts


def create_options(func: F) -> F:
    """The create body's options, then IMAGE and the command."""
    options = [
        click.option("--name", help="Container name (default: generated)."),
        click.option("-e", "--env", multiple=True, callback=_pairs, help="KEY=VALUE (repeat)."),
        click.option("--label", multiple=True, callback=_pairs, help="KEY=VALUE (repeat)."),
        click.option("--workdir", help="Working directory inside the container."),
        click.option("--hostname", help="Hostname inside the container."),
        click.option("--cpu", type=float, help="CPUs, e.g. 0.5."),
        click.option("--memory", help="Memory in MiB, or with a unit: 512M, 1G."),
        click.option(
            "--restart", callback=_restart, help="no|always|on-failure[:N]|unless-stopped."
        ),
        click.option("--auto-remove", is_flag=True, help="Remove the container when it exits."),
        click.option("-i", "--interactive", is_flag=True, help="Keep stdin open."),
        click.option("-t", "--tty", is_flag=True, help="Allocate a TTY."),
        click.option("--expose", multiple=True, help="PORT[/PROTO] to expose (repeat)."),
        click.option(
            "-v",
            "--volume",
            multiple=True,
            callback=_volumes,
            help="NAME:/PATH (a named volume) or SIZE:/PATH (a new one; repeat).",
        ),
        click.option("--entrypoint", help="Entrypoint, overriding the image's."),
        click.option("--image-pull-policy", type=click.Choice(["never", "always", "ifnotpresent"])),
        click.argument("image"),
        click.argument("command", nargs=-1, type=click.UNPROCESSED),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_spec(image: str, command: Sequence[str], options: dict[str, Any]) -> dict[str, Any]:
    """Zun's create body (microversion 1.40) from the command line; unset options left out."""
    memory = options.get("memory")
    entrypoint = options.get("entrypoint")
    spec: dict[str, Any] = {
        "image": image,
        "name": options.get("name"),
        "command": argv(command) or None,
        "environment": options.get("env") or None,
        "labels": options.get("label") or None,
        "workdir": options.get("workdir"),
        "hostname": options.get("hostname"),
        "cpu": options.get("cpu"),
        "memory": int(memory) if memory and memory.isdigit() else memory,
        "restart_policy": options.get("restart"),
        "auto_remove": options.get("auto_remove") or None,
        "interactive": options.get("interactive") or None,
        "tty": options.get("tty") or None,
        "exposed_ports": {port: {} for port in options.get("expose") or ()} or None,
        "entrypoint": shlex.split(entrypoint) if entrypoint else None,
        "image_pull_policy": options.get("image_pull_policy"),
        "mounts": options.get("volume") or None,
    }
    return {key: value for key, value in spec.items() if value is not None}


@command("create", **PASS_THROUGH)
@create_options
def create(image: str, command: tuple[str, ...], **options: Any) -> None:
    """Create a container from IMAGE (not started). Options go before IMAGE."""
    print_container(client().create(build_spec(image, command, options), run=False))


@command("run", **PASS_THROUGH)
@click.option("--no-wait", is_flag=True, help="Print the container at once, do not wait.")
@click.option(
    "-a", "--attach", "attach_to", is_flag=True,
    help="Attach to it once it runs (the default for -i on a terminal).",
)  # fmt: skip
@click.option(
    "--wait-timeout", type=float, default=WAIT_SLACK, show_default=True, help="Seconds to wait."
)
@create_options
def run(
    image: str, command: tuple[str, ...], no_wait: bool, attach_to: bool, wait_timeout: float,
    **options: Any,
) -> None:  # fmt: skip
    """Create and start a container from IMAGE; wait until it runs (or fails), print it.

    With -it on a terminal (or --attach), attach to it instead, as `docker run -it` does.
    Options go before IMAGE; everything after IMAGE is the container's command.
    """
    api = client()
    attach_to = attach_to or (bool(options.get("interactive")) and sys.stdin.isatty())
    if attach_to:
        options["interactive"] = True
        options["tty"] = options.get("tty") or sys.stdin.isatty()
    container = api.create(build_spec(image, command, options), run=True)
    if attach_to and not no_wait:
        show_run_pull(api, container, wait_timeout)
        api.wait_for_status(container["uuid"], ("Running",), wait_timeout)
        raise SystemExit(terminal.attach(api, container["uuid"]))
    if not no_wait:
        show_run_pull(api, container, wait_timeout)
        container = api.wait_for_status(container["uuid"], RUN_SETTLED, wait_timeout)
    print_container(container)
    if container.get("status") == "Error":
        fail(f"Container {container.get('name')} failed: {container.get('status_reason')}")


# --- read ---------------------------------------------------------------------------------


@command("list")
@click.option("--all-projects", is_flag=True, help="Containers of every project (admin).")
@click.option("--name", help="Only containers with this name.")
@click.option("--status", help="Only containers in this status, e.g. Running.")
@click.option("--image", help="Only containers of this image.")
def list_containers(
    all_projects: bool, name: str | None, status: str | None, image: str | None
) -> None:
    """List containers (every page)."""
    filters = {"name": name, "status": status, "image": image}
    if all_projects:
        filters["all_projects"] = "true"
    containers = client().list(**filters)
    click.echo(output.to_json(containers) if is_json() else output.containers_table(containers))


@command("show")
@click.argument("ident", metavar="ID")
def show(ident: str) -> None:
    """Show one container by UUID or name."""
    print_container(client().get(ident))


# --- change -------------------------------------------------------------------------------


@command("update")
@click.argument("ident", metavar="ID")
@click.option("--cpu", type=float, help="CPUs, e.g. 0.5.")
@click.option("--memory", help="Memory in MiB, or with a unit: 512M, 1G.")
@click.option("--name", help="A new name.")
def update(ident: str, cpu: float | None, memory: str | None, name: str | None) -> None:
    """Change a container's CPU, memory or name."""
    size = int(memory) if memory and memory.isdigit() else memory
    print_container(client().update(ident, cpu=cpu, memory=size, name=name))


@command("rename")
@click.argument("ident", metavar="ID")
@click.argument("new_name")
def rename(ident: str, new_name: str) -> None:
    """Rename a container."""
    print_container(client().rename(ident, new_name))


def act_on_each(idents: Sequence[str], verb: str, act: Action) -> None:
    """Run `act` for every ID, report each, exit 1 if any failed.

    A server that does not answer ends the command at once: every other ID would fail alike.
    """
    failed = 0
    for ident in idents:
        try:
            status = act(ident)
        except ServerUnreachable:
            raise
        except ClientError as exc:
            failed += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        if not is_json():
            accepted = f"Request to {verb} container {ident} has been accepted."
            click.echo(f"Container {ident} is {status}." if status else accepted)
    if failed:
        raise SystemExit(1)


def waiting(
    api: ContainersClient, act: Callable[[str], None], wait: bool, status: str, timeout: float
) -> Action:
    """`act`, then (with `wait`) poll until the container is in `status`."""

    def act_and_wait(ident: str) -> str | None:
        act(ident)
        if not wait:
            return None
        return str(api.wait_for_status(ident, (status,), timeout).get("status"))

    return act_and_wait


IDS = click.argument("idents", metavar="ID...", nargs=-1, required=True)
# As docker's commands do, an action returns once it has taken effect (a stopped container
# can be deleted at once); --no-wait returns as soon as the server has accepted it.
WAIT = click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Wait until it has taken effect."
)
TIMEOUT = click.option("--timeout", type=click.IntRange(min=0), help="Seconds before SIGKILL.")


@command("delete")
@IDS
@click.option("--force", is_flag=True, help="Delete even if it is running (admin).")
@click.option("--stop", is_flag=True, help="Stop a running container first.")
def delete(idents: tuple[str, ...], force: bool, stop: bool) -> None:
    """Delete containers."""
    api = client()
    act_on_each(idents, "delete", lambda ident: api.delete(ident, force=force, stop=stop))


@command("start")
@IDS
@WAIT
def start(idents: tuple[str, ...], wait: bool) -> None:
    """Start created or stopped containers."""
    api = client()
    act_on_each(idents, "start", waiting(api, api.start, wait, "Running", WAIT_SLACK))


@command("stop")
@IDS
@TIMEOUT
@WAIT
def stop(idents: tuple[str, ...], timeout: int | None, wait: bool) -> None:
    """Stop running containers."""
    api = client()
    act = waiting(api, lambda i: api.stop(i, timeout), wait, "Stopped", (timeout or 0) + WAIT_SLACK)
    act_on_each(idents, "stop", act)


@command("restart")
@IDS
@TIMEOUT
@WAIT
def restart(idents: tuple[str, ...], timeout: int | None, wait: bool) -> None:
    """Restart containers."""
    api = client()
    act = waiting(
        api, lambda i: api.restart(i, timeout), wait, "Running", (timeout or 0) + WAIT_SLACK
    )
    act_on_each(idents, "restart", act)


@command("pause")
@IDS
@WAIT
def pause(idents: tuple[str, ...], wait: bool) -> None:
    """Pause running containers."""
    api = client()
    act_on_each(idents, "pause", waiting(api, api.pause, wait, "Paused", WAIT_SLACK))


@command("unpause")
@IDS
@WAIT
def unpause(idents: tuple[str, ...], wait: bool) -> None:
    """Resume paused containers."""
    api = client()
    act_on_each(idents, "unpause", waiting(api, api.unpause, wait, "Running", WAIT_SLACK))


@command("kill")
@IDS
@click.option("-s", "--signal", help="Signal name or number (default: SIGKILL).")
def kill(idents: tuple[str, ...], signal: str | None) -> None:
    """Send a signal to running containers."""
    api = client()
    act_on_each(idents, "kill", lambda ident: api.kill(ident, signal))
