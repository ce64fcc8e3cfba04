"""`dockyard create` and `run`'s command line: its options, checked as click parses them,
and Zun's create body (microversion 1.40) built from them.

Apart from the commands because this is the one place that maps docker-style flags onto
Zun's fields; the commands themselves only send the body and wait.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from typing import Any

import click

from dockyard.cli.commands import F, argv

RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")


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
