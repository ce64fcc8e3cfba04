"""`dockyard network …`: a project's tenant networks, and containers' attachments to them,
for users without the OpenStack clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from dockyard.cli import output
from dockyard.cli.apiclient import open_client
from dockyard.cli.commands import fail, is_json
from dockyard.cli.groups import group_command
from dockyard.client.containers import ApiError
from dockyard.client.networks import NetworksClient

COLUMNS = ("ID", "NAME", "CIDR", "GATEWAY", "SHARED")


@click.group("network")
def network() -> None:
    """Tenant networks: create, list, show, delete; attach and detach containers."""


def command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    return group_command(network, name)


def client() -> NetworksClient:
    return open_client(NetworksClient)


def _described(api: NetworksClient, net: dict[str, Any]) -> dict[str, Any]:
    subnets = api.subnets(net["id"])
    first = subnets[0] if subnets else {}
    return {"id": net["id"], "name": net["name"], "cidr": first.get("cidr"),
            "gateway": first.get("gateway_ip"), "shared": net["shared"],
            "subnets": [s["id"] for s in subnets], "project_id": net["project_id"]}  # fmt: skip


@command("create")
@click.argument("name")
@click.option("--subnet", "cidr", required=True, help="Its IPv4 subnet, e.g. 10.2.0.0/24.")
@click.option("--internal", is_flag=True, help="No gateway: nothing leaves the network.")
def create(name: str, cidr: str, internal: bool) -> None:
    """Create a network with one subnet."""
    api = client()
    made = _described(api, api.create(name, cidr, gateway=not internal))
    click.echo(output.to_json(made) if is_json() else output.fields_table(made))


@command("list")
def list_networks() -> None:
    """List the networks the project can use."""
    api = client()
    found = [_described(api, n) for n in api.list_networks()]
    if is_json():
        click.echo(output.to_json(found))
        return
    rows = [[n["id"], n["name"], n["cidr"] or "-", n["gateway"] or "-", str(n["shared"])]
            for n in found]  # fmt: skip
    click.echo(output.table(COLUMNS, rows))


@command("show")
@click.argument("ident", metavar="NETWORK")
def show(ident: str) -> None:
    """Show a network (by name or id)."""
    api = client()
    found = _described(api, api.find(ident))
    click.echo(output.to_json(found) if is_json() else output.fields_table(found))


@command("delete")
@click.argument("idents", nargs=-1, required=True, metavar="NETWORK...")
def delete(idents: tuple[str, ...]) -> None:
    """Delete networks; one still holding containers' addresses is refused."""
    api = client()
    failed = []
    for ident in idents:
        try:
            api.delete(api.find(ident)["id"])
        except ApiError as exc:
            click.echo(f"Error: {ident}: {exc}", err=True)
            failed.append(ident)
    if failed:
        fail(f"{len(failed)} of {len(idents)} network(s) not deleted.")


@command("attach")
@click.argument("container")
@click.argument("ident", metavar="NETWORK")
@click.option("--fixed-ip", help="The IPv4 address to take (default: a free one).")
def attach(container: str, ident: str, fixed_ip: str | None) -> None:
    """Connect CONTAINER to NETWORK."""
    client().attach(container, ident, fixed_ip)


@command("detach")
@click.argument("container")
@click.argument("ident", metavar="NETWORK")
def detach(container: str, ident: str) -> None:
    """Disconnect CONTAINER from NETWORK (its address there is released)."""
    client().detach(container, ident)
