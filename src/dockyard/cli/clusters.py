"""`dockyard cluster …`: clusters of containers through the clustering API, for users
without the OpenStack clients."""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml

from dockyard.cli import output
from dockyard.cli.apiclient import open_client
from dockyard.cli.commands import fail, is_json
from dockyard.cli.groups import group_command
from dockyard.client.clusters import ClustersClient

NODE_COLUMNS = ("ID", "NAME", "INDEX", "STATUS", "PHYSICAL ID")
CLUSTER_COLUMNS = ("ID", "NAME", "STATUS", "DESIRED", "MIN", "MAX")


@click.group("cluster")
def cluster() -> None:
    """Clusters of containers: profiles, policies, resizes, webhooks (Senlin's API)."""


def command(name: str) -> Callable[[Callable[..., Any]], click.Command]:
    """A `dockyard cluster NAME` command with the API options (--url, --token, --format)."""
    return group_command(cluster, name)


def client() -> ClustersClient:
    return open_client(ClustersClient)


def show(document: dict[str, Any]) -> None:
    click.echo(output.to_json(document) if is_json() else output.fields_table(document))


def accepted(action: str) -> None:
    click.echo(output.to_json({"action": action}) if is_json() else f"accepted: action {action}")


def read_spec(path: str) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        fail(f"cannot read the spec file {path}: {exc}")
    if not isinstance(spec, dict):
        fail(f"the spec file {path} is not a map with type, version and properties")
    return spec


@command("profile-create")
@click.argument("name")
@click.option("--spec-file", help="A Senlin profile spec (YAML): type, version, properties.")
@click.option("--image", help="Without a spec file: members run this image…")
@click.option(
    "--command",
    "command_",
    help="…with this command line, split as a shell would (container.dockyard).",
)
def profile_create(name: str, spec_file: str | None, image: str | None,
                   command_: str | None) -> None:  # fmt: skip
    """Create a profile: what each member of a cluster is."""
    if spec_file:
        spec = read_spec(spec_file)
    elif image:
        props: dict[str, Any] = {"image": image}
        if command_:
            props["command"] = shlex.split(command_)
        spec = {"type": "container.dockyard", "version": "1.0", "properties": props}
    else:
        fail("give --spec-file, or --image (and --command)")
    show(client().post("/v1/profiles", {"profile": {"name": name, "spec": spec}})["profile"])


@command("policy-create")
@click.argument("name")
@click.option("--spec-file", required=True, help="A Senlin policy spec (YAML).")
def policy_create(name: str, spec_file: str) -> None:
    """Create a policy (scaling, deletion, placement, health, batch…)."""
    body = {"policy": {"name": name, "spec": read_spec(spec_file)}}
    show(client().post("/v1/policies", body)["policy"])


@command("create")
@click.argument("name")
@click.option("--profile", required=True, help="The profile of the members.")
@click.option("--desired-capacity", type=int, default=0, show_default=True)
@click.option("--min-size", type=int, default=0, show_default=True)
@click.option("--max-size", type=int, default=-1, show_default=True, help="-1: no limit.")
@click.option("--wait", is_flag=True, help="Wait until the cluster is ACTIVE (or fails).")
def create(name: str, profile: str, desired_capacity: int, min_size: int, max_size: int,
           wait: bool) -> None:  # fmt: skip
    """Create a cluster; its members are made in the background."""
    api = client()
    body = {"cluster": {"name": name, "profile_id": profile, "desired_capacity": desired_capacity,
                        "min_size": min_size, "max_size": max_size}}  # fmt: skip
    created = api.post("/v1/clusters", body)["cluster"]
    show(wait_settled(api, created["id"]) if wait else created)


def wait_settled(api: ClustersClient, ident: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        shown: dict[str, Any] = api.get(f"/v1/clusters/{ident}")["cluster"]
        if shown["status"] in ("ACTIVE", "WARNING", "ERROR") or time.monotonic() > deadline:
            return shown
        time.sleep(1)


@command("list")
def list_clusters() -> None:
    """The project's clusters."""
    clusters = client().get("/v1/clusters")["clusters"]
    if is_json():
        click.echo(output.to_json(clusters))
        return
    rows = [[c["id"][:8], c["name"], c["status"], str(c["desired_capacity"]), str(c["min_size"]),
             str(c["max_size"])] for c in clusters]  # fmt: skip
    click.echo(output.table(CLUSTER_COLUMNS, rows))


@command("show")
@click.argument("ident", metavar="CLUSTER")
def show_cluster(ident: str) -> None:
    """One cluster."""
    show(client().get(f"/v1/clusters/{ident}")["cluster"])


@command("members")
@click.argument("ident", metavar="CLUSTER")
def members(ident: str) -> None:
    """The members (nodes) of a cluster and their containers."""
    nodes = client().get("/v1/nodes", cluster_id=ident)["nodes"]
    if is_json():
        click.echo(output.to_json(nodes))
        return
    rows = [[n["id"][:8], n["name"], str(n["index"]), n["status"], n["physical_id"] or "-"]
            for n in nodes]  # fmt: skip
    click.echo(output.table(NODE_COLUMNS, rows))


@command("resize")
@click.argument("ident", metavar="CLUSTER")
@click.option("--capacity", type=int, help="The new desired capacity.")
@click.option("--min-size", type=int)
@click.option("--max-size", type=int)
@click.option("--strict", is_flag=True, help="Refuse, rather than clamp, a size out of bounds.")
def resize(ident: str, capacity: int | None, min_size: int | None, max_size: int | None,
           strict: bool) -> None:  # fmt: skip
    """Resize a cluster (EXACT_CAPACITY), or change its bounds."""
    params: dict[str, Any] = {"min_size": min_size, "max_size": max_size, "strict": strict}
    if capacity is not None:
        params |= {"adjustment_type": "EXACT_CAPACITY", "number": capacity}
    accepted(client().action(ident, "resize", params))


@command("expand")
@click.argument("ident", metavar="CLUSTER")
@click.option("--count", type=int, help="How many members to add (default: the policy's, or 1).")
def expand(ident: str, count: int | None) -> None:
    """Scale out."""
    accepted(client().action(ident, "scale_out", {"count": count}))


@command("shrink")
@click.argument("ident", metavar="CLUSTER")
@click.option("--count", type=int, help="How many members to remove (default: the policy's, or 1).")
def shrink(ident: str, count: int | None) -> None:
    """Scale in."""
    accepted(client().action(ident, "scale_in", {"count": count}))


@command("policy-attach")
@click.argument("ident", metavar="CLUSTER")
@click.argument("policy")
def policy_attach(ident: str, policy: str) -> None:
    """Attach a policy to a cluster."""
    accepted(client().action(ident, "policy_attach", {"policy_id": policy, "enabled": True}))


@command("policy-detach")
@click.argument("ident", metavar="CLUSTER")
@click.argument("policy")
def policy_detach(ident: str, policy: str) -> None:
    """Detach a policy from a cluster."""
    accepted(client().action(ident, "policy_detach", {"policy_id": policy}))


@command("update")
@click.argument("ident", metavar="CLUSTER")
@click.option("--profile", required=True, help="The new profile: a rolling update of members.")
def update(ident: str, profile: str) -> None:
    """Change a cluster's profile (batch policy: batches, min_in_service)."""
    body = {"cluster": {"profile_id": profile}}
    show(client().request("PATCH", f"/v1/clusters/{ident}", body)["cluster"])


@command("webhook-create")
@click.argument("name")
@click.option("--cluster", "cluster_", required=True, help="The cluster it acts on.")
@click.option("--action", default="CLUSTER_SCALE_OUT", show_default=True)
def webhook_create(name: str, cluster_: str, action: str) -> None:
    """A webhook receiver: its URL triggers the action with no token."""
    body = {"receiver": {"name": name, "type": "webhook", "cluster_id": cluster_,
                         "action": action, "params": {}}}  # fmt: skip
    show(client().post("/v1/receivers", body)["receiver"])


@command("actions")
@click.argument("ident", metavar="CLUSTER", required=False)
def actions(ident: str | None) -> None:
    """Recorded actions (of one cluster, if given)."""
    api = client()
    params = {"target": api.get(f"/v1/clusters/{ident}")["cluster"]["id"]} if ident else {}
    found = api.get("/v1/actions", **params)["actions"]
    if is_json():
        click.echo(output.to_json(found))
        return
    rows = [[a["id"][:8], a["action"], a["status"], a["status_reason"] or "-"] for a in found]
    click.echo(output.table(("ID", "ACTION", "STATUS", "REASON"), rows))


@command("delete")
@click.argument("ident", metavar="CLUSTER")
def delete(ident: str) -> None:
    """Delete a cluster and its members."""
    accepted(client().request("DELETE", f"/v1/clusters/{ident}")["action"])
