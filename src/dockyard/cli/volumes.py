"""`dockyard volume create|list|show|delete`: a project's named volumes (/v1/volumes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from dockyard.cli import output
from dockyard.cli.commands import client, is_json
from dockyard.cli.groups import group_command
from dockyard.client.containers import ApiError, ContainersClient

COLUMNS = ("UUID", "NAME", "SIZE", "IN USE BY")
IN_USE = "container.volume-in-use"


@click.group("volume")
def volume() -> None:
    """Named volumes: data that outlives containers (mount with --mount source=NAME,...)."""


def _sub(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    return group_command(volume, name)


def _show(found: dict[str, Any]) -> None:
    click.echo(output.to_json(found) if is_json() else output.fields_table(found))


@_sub("create")
@click.argument("name")
@click.option("--size", type=click.IntRange(1), help="GiB (recorded; local volumes grow freely).")
def create(name: str, size: int | None) -> None:
    """Create the named volume NAME on a host; containers that mount it run there."""
    _show(client().create_volume(name, size))


@_sub("list")
def list_volumes() -> None:
    """List the project's named volumes and the containers that mount them."""
    found = client().list_volumes()
    if is_json():
        click.echo(output.to_json(found))
        return
    rows = [
        [v["uuid"], v["name"], f"{v['size']} GiB" if v.get("size") else "-",
         ", ".join(v["containers"]) or "-"]
        for v in found
    ]  # fmt: skip
    click.echo(output.table(COLUMNS, rows))


@_sub("show")
@click.argument("ident", metavar="VOLUME")
def show(ident: str) -> None:
    """Show a volume (by name or uuid)."""
    _show(client().get_volume(ident))


@_sub("delete")
@click.argument("idents", nargs=-1, required=True, metavar="VOLUME...")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for containers being deleted to let go of it.")  # fmt: skip
def delete(idents: tuple[str, ...], timeout: float) -> None:
    """Delete volumes and their data; a volume a container mounts is refused, unless every
    such container is being deleted: then it waits for them, as `docker volume rm` after
    `docker rm` would find them gone."""
    api = client()
    for ident in idents:
        _delete_when_free(api, ident, timeout)
        click.echo(f"Deleted volume {ident}")


def _delete_when_free(api: ContainersClient, ident: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            api.delete_volume(ident)
            return
        except ApiError as exc:
            if exc.code != IN_USE or time.monotonic() > deadline or not _all_leaving(api, ident):
                raise
        time.sleep(0.3)


def _all_leaving(api: ContainersClient, ident: str) -> bool:
    """Whether every container that mounts the volume is on its way out."""
    for uuid in api.get_volume(ident)["containers"]:
        try:
            status = api.get(uuid).get("status")
        except ApiError as exc:
            if exc.status != 404:
                raise
            continue
        if status != "Deleting":
            return False
    return True
