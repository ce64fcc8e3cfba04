"""`dockyard run|create|list|show|delete|start|stop|…`: containers through the Zun API."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from dockyard.cli import output, terminal
from dockyard.cli.commands import (
    COMMANDS,
    PASS_THROUGH,
    client,
    command,
    fail,
    is_json,
    print_container,
)
from dockyard.cli.create_options import build_spec, create_options
from dockyard.cli.progress import show_run_pull
from dockyard.client.containers import ClientError, ContainersClient, ServerUnreachable

# A started container has settled once it runs, or has already exited or failed.
RUN_SETTLED = ("Running", "Stopped", "Error", "Dead")
WAIT_SLACK = 60.0
# One container action: returns the status it waited for, or None if only accepted.
Action = Callable[[str], str | None]


def register(group: click.Group) -> None:
    """Add every containers command (and the `ls` alias of `list`) to the group."""
    for cmd in COMMANDS:
        group.add_command(cmd)
    group.add_command(list_containers, name="ls")


# --- create / run -------------------------------------------------------------------------


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
