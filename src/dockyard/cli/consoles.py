"""`dockyard logs`, `exec` and `attach`: a container's output and its processes' terminals."""

from __future__ import annotations

import shlex

import click

from dockyard.cli import output, terminal
from dockyard.cli.commands import PASS_THROUGH, argv, client, command, is_json


@command("logs")
@click.argument("ident", metavar="ID")
@click.option("--tail", help="Only the last N lines (default: all).")
@click.option("--since", help="Only since this time: epoch seconds or 'YYYY-mm-dd HH:MM:SS'.")
@click.option("--timestamps", is_flag=True, help="Prefix every line with its time.")
@click.option("--stdout/--no-stdout", default=True, show_default=True)
@click.option("--stderr/--no-stderr", default=True, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Go on printing them as they are written.")
def logs(
    ident: str, tail: str | None, since: str | None, timestamps: bool, stdout: bool, stderr: bool,
    follow: bool,
) -> None:  # fmt: skip
    """Print a container's logs."""
    if follow:
        terminal.follow_logs(client(), ident, tail)
        return
    text = client().logs(ident, stdout, stderr, tail, since, timestamps)
    click.echo(output.to_json(text) if is_json() else text, nl=is_json())


@command("exec", **PASS_THROUGH)
@click.option("-i", "--interactive", is_flag=True, help="Type into it, on a TTY (as -it).")
@click.option("-t", "--tty", is_flag=True, help="On a TTY, typed into (as -it).")
@click.argument("ident", metavar="ID")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(ident: str, command: tuple[str, ...], interactive: bool, tty: bool) -> None:
    """Run COMMAND in a running container, print its output, exit with its exit code.

    With -i or -t, COMMAND runs on a terminal you type into. Options go before ID;
    everything after ID is the command.
    """
    if interactive or tty:
        raise SystemExit(terminal.exec_interactive(client(), ident, shlex.join(argv(command))))
    result = client().execute(ident, shlex.join(argv(command)))
    if is_json():
        click.echo(output.to_json(result))
    else:
        click.echo(result.get("output") or "", nl=False)
    code = result.get("exit_code")
    if isinstance(code, int) and code != 0:
        raise SystemExit(code)


@command("attach")
@click.argument("ident", metavar="ID")
def attach(ident: str) -> None:
    """Attach to an interactive container's terminal; exit with its status when it ends."""
    raise SystemExit(terminal.attach(client(), ident))
