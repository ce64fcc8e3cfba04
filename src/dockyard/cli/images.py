"""`dockyard pull|images|rmi`: images on the hosts, through /v1/images (administrators)."""

from __future__ import annotations

import click

from dockyard.cli import output
from dockyard.cli.commands import client, command, fail, is_json
from dockyard.cli.progress import pull_onto

IMAGE_COLUMNS = ("UUID", "REPOSITORY", "TAG", "IMAGE ID", "SIZE", "HOST", "STATUS")
SEARCH_COLUMNS = ("NAME", "TAGS", "REGISTRY", "DESCRIPTION")


@command("pull")
@click.argument("image")
@click.option("--host", "hosts", multiple=True, help="Onto this host (default: every host).")
def pull(image: str, hosts: tuple[str, ...]) -> None:
    """Pull IMAGE onto the hosts, with a progress bar on a terminal."""
    api = client()
    targets = list(hosts) or [h["hostname"] for h in api.list_hosts()]
    failed = []
    for host in targets:
        label = f"{image} on {host}" if len(targets) > 1 else image
        settled = pull_onto(api, image, host, label)
        if settled.get("status") != "Pulled":
            failed.append(host)
    if failed:
        fail(f"Pull of {image} failed on {', '.join(failed)}.")


@command("images")
def images() -> None:
    """List the images pulled onto hosts."""
    found = client().list_images()
    if is_json():
        click.echo(output.to_json(found))
        return
    rows = [
        [
            i["uuid"], i["repo"], i["tag"], (i.get("image_id") or "-")[7:19] or "-",
            f"{(i.get('size') or 0) / 1_000_000:.1f} MB", i.get("host") or "-", i["status"],
        ]
        for i in found
    ]  # fmt: skip
    click.echo(output.table(IMAGE_COLUMNS, rows))


@command("search")
@click.argument("term")
@click.option("--exact", is_flag=True, help="Only the image named exactly TERM.")
def search(term: str, exact: bool) -> None:
    """Find images by name on the hosts and in your project's registries (HOST:PORT/NAME:
    that registry only; docker.io/NAME: Docker Hub)."""
    found = client().search_images(term, exact)
    if is_json():
        click.echo(output.to_json(found))
        return
    rows = [
        [i["name"], ",".join(i.get("tags") or []) or "-",
         (i.get("metadata") or {}).get("registry") or "(hosts)", i.get("description") or ""]
        for i in found
    ]  # fmt: skip
    click.echo(output.table(SEARCH_COLUMNS, rows))


@command("rmi")
@click.argument("refs", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--host", help="Only from this host (default: every host that has it).")
def rmi(refs: tuple[str, ...], host: str | None) -> None:
    """Remove images (by REPOSITORY[:TAG] or image record UUID) from the hosts."""
    api = client()
    known = api.list_images()
    missing = []
    for ref in refs:
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "")
        chosen = [
            i for i in known
            if (i["uuid"] == ref or (i["repo"], i["tag"]) == (repo, tag or "latest"))
            and (host is None or i.get("host") == host)
        ]  # fmt: skip
        if not chosen:
            missing.append(ref)
        for record in chosen:
            api.delete_image(record["uuid"])
            click.echo(f"Removed {record['repo']}:{record['tag']} from {record.get('host')}")
    if missing:
        fail(f"No such image: {', '.join(missing)}")
