"""How a `dockyard GROUP …` command is made (volume, network, cluster): with the API options
and the error handling of every command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from dockyard.cli.commands import ApiCommand, api_options


def group_command(group: click.Group, name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """A `dockyard GROUP NAME` command with the API options (--url, --token, --format)."""

    def decorate(func: Callable[..., Any]) -> click.Command:
        cmd = click.command(name, cls=ApiCommand)(api_options(func))
        group.add_command(cmd)
        return cmd

    return decorate
