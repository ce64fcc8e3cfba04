"""container.dockyard profiles with a capsule template: the members are capsules of the
cluster's project, through the real `openstack cluster …` CLI."""

from __future__ import annotations

from typing import Any

import docker
import httpx
import pytest

from tests.support.clustering import HTTP_MEMBER, spec_file, wait_active
from tests.support.senlin import SenlinCli
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine


def capsules_of(server: DockyardProcess, cluster_id: str) -> list[dict[str, Any]]:
    with server.client() as zun:
        listed = zun.get("/v1/capsules").json()["capsules"]
    return [c for c in listed if (c.get("labels") or {}).get("io.dockyard.cluster") == cluster_id]


def template(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "capsule", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"containers": list(containers)}}  # fmt: skip


def test_cluster_of_capsules(
    cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess, engine: docker.DockerClient
) -> None:
    name = unique_name("cap")
    app = {"name": "app", "image": TEST_IMAGE, "command": SLEEP_FOREVER}
    side = {"name": "side", "image": TEST_IMAGE, "command": HTTP_MEMBER}
    spec = spec_file(cli.cwd / "p.yaml", "container.dockyard", "1.0", template=template(app, side))
    cli.run("profile", "create", "--spec-file", spec, f"{name}-p")
    cli.run("create", "--profile", f"{name}-p", "--desired-capacity", "2", name)
    members = wait_active(senlin, name, 2)
    cluster_id = members[0]["cluster_id"]
    capsules = capsules_of(server, cluster_id)
    assert {c["uuid"] for c in capsules} == {n["physical_id"] for n in members}
    assert {c["status"] for c in capsules} == {"Running"}
    assert all(c["labels"]["app"] == "web" for c in capsules)
    assert all(len(c["containers"]) == 2 for c in capsules)

    cli.run("shrink", "--count", "1", name)
    (member,) = wait_active(senlin, name, 1)
    wait_for(lambda: len(capsules_of(server, cluster_id)) == 1, 60, 0.3, "one capsule left")

    # The poll runs in the capsule's sandbox namespace (its containers share it): the side
    # container stops serving, and the capsule is recreated.
    health = spec_file(cli.cwd / "health.yaml", "senlin.policy.health", "1.1",
                       detection={"interval": 1, "node_update_timeout": 0, "detection_modes": [
                           {"type": "NODE_STATUS_POLL_URL",
                            "options": {"poll_url": "http://{ip}:8080/",
                                        "poll_url_retry_limit": 1}}]},
                       recovery={"actions": [{"name": "RECREATE"}]})  # fmt: skip
    cli.run("policy", "create", "--spec-file", health, f"{name}-hp")
    cli.run("policy", "attach", "--policy", f"{name}-hp", name)
    inner = [c for c in capsules_of(server, cluster_id)[0]["containers"] if "side" in c["name"]]
    assert len(inner) == 1, capsules_of(server, cluster_id)[0]["containers"]
    (served,) = engine.containers.list(
        filters={"label": f"io.dockyard.container={inner[0]['uuid']}"}
    )
    assert served.exec_run(["killall", "httpd"]).exit_code == 0
    wait_for(lambda: wait_active(senlin, name, 1)[0]["physical_id"] != member["physical_id"],
             90, 0.5, "the capsule that stopped answering to be recreated")  # fmt: skip

    # A template that is not a capsule is refused when the profile is made: a 400.
    bad = {"kind": "capsule", "metadata": {"name": "x"}, "spec": {"containers": []}}
    body = {
        "profile": {
            "name": f"{name}-bad",
            "spec": {
                "type": "container.dockyard",
                "version": "1.0",
                "properties": {"template": bad},
            },
        }
    }
    refused = senlin.post("/v1/profiles", json=body)
    assert refused.status_code == 400, refused.text
    assert "capsule template" in refused.json()["error"]["message"]

    assert senlin.delete(f"/v1/clusters/{name}").status_code == 202
    wait_for(lambda: senlin.get(f"/v1/clusters/{cluster_id}").status_code == 404, 90, 0.3,
             "the cluster deleted")  # fmt: skip
    wait_for(lambda: not capsules_of(server, cluster_id), 60, 0.3, "its capsules deleted")
