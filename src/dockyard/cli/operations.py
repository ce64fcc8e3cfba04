"""`dockyard cp|commit|top|rebuild`: a container's files, image, processes and remake."""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import click

from dockyard.cli import output
from dockyard.cli.commands import client, command, fail, is_json, print_container
from dockyard.cli.containers import RUN_SETTLED


def split_target(text: str) -> tuple[str | None, str]:
    """(container, path) of `CONTAINER:PATH`, or (None, path) of a local path, as docker cp
    reads them (a local path with a colon must start with / or ./)."""
    if text.startswith(("/", ".")) or ":" not in text:
        return None, text
    container, path = text.split(":", 1)
    return container, path


@command("cp")
@click.argument("source")
@click.argument("destination")
def cp(source: str, destination: str) -> None:
    """Copy files between a container and the local filesystem, like docker cp.

    \b
    dockyard cp CONTAINER:SRC_PATH DEST_DIR   (DEST_DIR "-": the tar on stdout)
    dockyard cp SRC_PATH CONTAINER:DEST_DIR   (SRC_PATH "-": a tar from stdin)
    """
    (source_box, source_path), (dest_box, dest_path) = (
        split_target(source), split_target(destination)
    )  # fmt: skip
    if (source_box is None) == (dest_box is None):
        fail("Give exactly one of SOURCE and DESTINATION as CONTAINER:PATH.")
    if source_box is not None:
        data, _ = client().get_archive(source_box, source_path)
        _unpack(data, dest_path)
    elif dest_box is not None:
        client().put_archive(dest_box, dest_path, _pack(source_path))


def _unpack(data: bytes, destination: str) -> None:
    if destination == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target = Path(destination)
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        # "data": no absolute names, no links out of target, no devices (PEP 706).
        tar.extractall(target, filter="data")


def _pack(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    path = Path(source)
    if not path.exists():
        fail(f"{source}: no such file or directory.")
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(path, arcname=path.resolve().name or "/")
    return out.getvalue()


@command("commit")
@click.argument("ident", metavar="ID")
@click.argument("repository", metavar="REPOSITORY[:TAG]")
def commit(ident: str, repository: str) -> None:
    """Make an image of a container (on its host); print the image's uuid."""
    name, tag = repository, None
    if ":" in repository.rsplit("/", 1)[-1]:
        name, _, tag = repository.rpartition(":")
    made = client().commit(ident, name, tag)
    click.echo(output.to_json(made) if is_json() else made["uuid"])


@command("top")
@click.argument("ident", metavar="ID")
@click.option("--ps-args", help="Arguments for ps, e.g. '-o pid,comm'.")
def top(ident: str, ps_args: str | None) -> None:
    """List the processes of a running container."""
    found = client().top(ident, ps_args)
    if is_json():
        click.echo(output.to_json(found))
        return
    click.echo(output.table(list(found.get("Titles") or []), found.get("Processes") or []))


@command("rebuild")
@click.argument("ident", metavar="ID")
@click.option("--image", help="Rebuild from this image instead of the container's own.")
@click.option("--no-wait", is_flag=True, help="Return once accepted, do not wait.")
def rebuild(ident: str, image: str | None, no_wait: bool) -> None:
    """Remake a container (same uuid and name) from its image or another one."""
    api = client()
    api.rebuild(ident, image)
    if no_wait:
        return
    print_container(api.wait_for_status(ident, ("Created", *RUN_SETTLED)))
