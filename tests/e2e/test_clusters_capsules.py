"""container.dockyard profiles with a capsule template: the members are capsules of the
cluster's project, through the real `openstack cluster …` CLI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.clustering import spec_file, wait_active
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


def test_cluster_of_capsules(cli: SenlinCli, senlin: httpx.Client, server: DockyardProcess) -> None:
    name = unique_name("cap")
    app = {"name": "app", "image": TEST_IMAGE, "command": SLEEP_FOREVER}
    side = {"name": "side", "image": TEST_IMAGE, "command": SLEEP_FOREVER}
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
    wait_active(senlin, name, 1)
    wait_for(lambda: len(capsules_of(server, cluster_id)) == 1, 60, 0.3, "one capsule left")

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
