"""`dockyard cluster …` against a real `dockyard serve`: the same journey as the OpenStack
client's, for users without it."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cli.conftest import Dockyard
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine
# Stops at once on SIGTERM (a plain sleep as PID 1 waits out the stop timeout).
LOOP = 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done'
STOPS_ON_TERM = f"sh -c '{LOOP}'"


def ok(dockyard: Dockyard, *args: str) -> str:
    result = dockyard(*args)
    assert result.exit_code == 0, result.output + result.stderr
    return result.output


def member_count(dockyard: Dockyard, name: str) -> int:
    nodes = json.loads(ok(dockyard, "cluster", "members", name, "--format", "json"))
    return sum(1 for n in nodes if n["status"] == "ACTIVE")


def test_cluster_commands_create_scale_attach_and_delete(
    dockyard: Dockyard, tmp_path: Path
) -> None:
    name = unique_name("dc")
    ok(dockyard, "cluster", "profile-create", name, "--image", TEST_IMAGE,
       "--command", STOPS_ON_TERM)  # fmt: skip
    shown = ok(dockyard, "cluster", "create", name, "--profile", name,
               "--desired-capacity", "2", "--wait")  # fmt: skip
    assert "ACTIVE" in shown
    assert member_count(dockyard, name) == 2
    assert "accepted: action" in ok(dockyard, "cluster", "expand", name)
    wait_for(lambda: member_count(dockyard, name) == 3, 60, 0.5, "a third member")

    spec = tmp_path / "scale.yaml"
    spec.write_text(yaml.safe_dump({"type": "senlin.policy.scaling", "version": "1.0",
                                    "properties": {"event": "CLUSTER_SCALE_IN",
                                                   "adjustment": {"number": 2}}}))  # fmt: skip
    ok(dockyard, "cluster", "policy-create", name, "--spec-file", str(spec))
    ok(dockyard, "cluster", "policy-attach", name, name)
    ok(dockyard, "cluster", "shrink", name)  # by the policy's two
    wait_for(lambda: member_count(dockyard, name) == 1, 60, 0.5, "one member left")

    webhook = yaml.safe_load(ok(dockyard, "cluster", "webhook-create", name, "--cluster", name,
                                "--format", "json"))  # fmt: skip
    assert httpx.post(webhook["channel"]["alarm_url"]).status_code == 202
    wait_for(lambda: member_count(dockyard, name) == 2, 60, 0.5, "the webhook's member")

    refused = dockyard("cluster", "resize", name, "--capacity", "5", "--max-size", "3",
                       "--strict")  # fmt: skip
    assert refused.exit_code == 1
    assert "greater than the cluster's max_size (3)" in refused.stderr
    ok(dockyard, "cluster", "resize", name, "--capacity", "3")
    wait_for(lambda: member_count(dockyard, name) == 3, 60, 0.5, "three members")

    # A rolling update to a new profile (the command as a shell would split it).
    ok(dockyard, "cluster", "profile-create", f"{name}-v2", "--image", TEST_IMAGE,
       "--command", f"sh -c 'echo v2 > /tmp/v; {LOOP}'")  # fmt: skip
    ok(dockyard, "cluster", "policy-detach", name, name)
    ok(dockyard, "cluster", "update", name, "--profile", f"{name}-v2")

    def updated() -> bool:
        nodes = json.loads(ok(dockyard, "cluster", "members", name, "--format", "json"))
        return len(nodes) == 3 and all(
            n["profile_name"] == f"{name}-v2" and n["status"] == "ACTIVE" for n in nodes
        )

    wait_for(updated, 90, 0.5, "every member on the new profile")
    shown = json.loads(ok(dockyard, "cluster", "show", name, "--format", "json"))
    assert (shown["profile_name"], shown["policies"]) == (f"{name}-v2", [])
    done = {a["action"] for a in json.loads(ok(dockyard, "cluster", "actions", name, "--format",
                                                "json"))}  # fmt: skip
    assert {"CLUSTER_SCALE_IN", "CLUSTER_RESIZE", "CLUSTER_UPDATE", "CLUSTER_DETACH_POLICY"} <= done
    ok(dockyard, "cluster", "delete", name)
    wait_for(lambda: dockyard("cluster", "show", name).exit_code == 1, 60, 0.5, "deletion")
