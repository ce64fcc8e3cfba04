"""What the clustering end-to-end tests share: specs and profiles made through the real Senlin
CLI, and waits on a cluster's members over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for

CLUSTERING = {"OpenStack-API-Version": "clustering 1.14"}
# A member serving "ok" over HTTP on 8080 (busybox httpd daemonizes; the shell stays PID 1).
HTTP_MEMBER = ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /www; echo ok > /www/index.html; "
               "httpd -p 8080 -h /www; while :; do sleep 1 & wait $!; done"]  # fmt: skip


def spec_file(path: Path, kind: str, version: str, **properties: Any) -> str:
    path.write_text(yaml.safe_dump({"type": kind, "version": version, "properties": properties}))
    return str(path)


def profile(
    cli: SenlinCli, name: str, command: list[str] = SLEEP_FOREVER, image: str = TEST_IMAGE
) -> str:
    spec = spec_file(cli.cwd / f"{name}.yaml", "container.dockyard", "1.0",
                     image=image, command=command, cpu=0.1, memory=32)  # fmt: skip
    created: dict[str, Any] = cli.json("profile", "create", "--spec-file", spec, name)
    return str(created["id"])


def nodes(api: httpx.Client, cluster: str) -> list[dict[str, Any]]:
    response = api.get("/v1/nodes", params={"cluster_id": cluster})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["nodes"]
    return found


def wait_active(api: httpx.Client, cluster: str, size: int) -> list[dict[str, Any]]:
    """The members, once the cluster is ACTIVE with `size` of them, all ACTIVE."""

    def ready() -> list[dict[str, Any]] | None:
        shown = api.get(f"/v1/clusters/{cluster}").json()["cluster"]
        members = nodes(api, cluster)
        statuses = [n["status"] for n in members]
        ok = shown["status"] == "ACTIVE" and statuses == ["ACTIVE"] * size
        return members if ok else None

    members: list[dict[str, Any]] = wait_for(ready, 90, 0.3, f"{cluster} ACTIVE with {size}")
    return members


def containers_of(server: DockyardProcess, cluster_id: str) -> list[dict[str, Any]]:
    with server.client() as zun:
        listed = zun.get("/v1/containers").json()["containers"]
    return [c for c in listed if c["labels"].get("io.dockyard.cluster") == cluster_id]


def delete_cluster(cli: SenlinCli, server: DockyardProcess, api: httpx.Client, name: str) -> None:
    cluster_id = api.get(f"/v1/clusters/{name}").json()["cluster"]["id"]
    assert "accepted" in cli.run("delete", "--force", name).stdout
    wait_for(lambda: api.get(f"/v1/clusters/{cluster_id}").status_code == 404, 90, 0.3,
             f"{name} to be deleted")  # fmt: skip
    assert containers_of(server, cluster_id) == []


def one_member_cluster(cli: SenlinCli, api: httpx.Client, name: str) -> dict[str, Any]:
    """A cluster `name` of one ACTIVE member, on a profile `<name>-p` of its own; the member."""
    profile(cli, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "1", name)
    (member,) = wait_active(api, name, 1)
    return member


def status_polling_health(cli: SenlinCli, recovery: str) -> str:
    """A health policy spec that polls the members' status every second and recovers a failed
    one by `recovery` (REBUILD, REBOOT, RECREATE, ...); the spec file's path."""
    return spec_file(cli.cwd / "health.yaml", "senlin.policy.health", "1.1",
                     detection={"interval": 1,
                                "detection_modes": [{"type": "NODE_STATUS_POLLING"}]},
                     recovery={"actions": [{"name": recovery}]})  # fmt: skip


def attach_policy(cli: SenlinCli, cluster: str, spec: str, policy: str) -> None:
    """Create the policy `policy` from `spec` and attach it (Senlin attaches asynchronously)."""
    cli.run("policy", "create", "--spec-file", spec, policy)
    cli.run("policy", "attach", "--policy", policy, cluster)


def wait_bound(api: httpx.Client, cluster: str) -> None:
    """Until the cluster has a policy binding: an attach's action has run."""
    wait_for(lambda: api.get(f"/v1/clusters/{cluster}/policies").json()["cluster_policies"],
             30, 0.3, "the binding")  # fmt: skip
