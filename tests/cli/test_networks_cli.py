"""`dockyard network …` against a real `dockyard serve`: make a network, run a container on
it, attach and detach another, and the refusals (in use, overlapping, unknown) — for users
without the OpenStack clients."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Dockyard
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_status
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine


def ok(dockyard: Dockyard, *args: str) -> str:
    result = dockyard(*args)
    assert result.exit_code == 0, result.output + result.stderr
    return result.output


def refused(dockyard: Dockyard, *args: str) -> str:
    result = dockyard(*args)
    assert result.exit_code == 1, result.output
    return result.stderr


def test_network_commands(dockyard: Dockyard) -> None:
    name, spare = unique_name("dn"), unique_name("dn")
    made = json.loads(ok(dockyard, "network", "create", name, "--subnet", "10.71.0.0/24",
                         "--format", "json"))  # fmt: skip
    assert (made["name"], made["cidr"], made["gateway"]) == (name, "10.71.0.0/24", "10.71.0.1")
    internal = json.loads(ok(dockyard, "network", "create", spare, "--subnet", "10.71.0.0/24",
                             "--internal", "--format", "json"))  # fmt: skip
    assert internal["gateway"] is None
    assert "not a valid IP subnet" in refused(dockyard, "network", "create", unique_name("x"),
                                              "--subnet", "10.71.0.0/33")  # fmt: skip
    assert name in ok(dockyard, "network", "list")
    container = dockyard.name("dn")
    body = {"name": container, "image": TEST_IMAGE, "command": SLEEP_FOREVER,
            "nets": [{"network": name}]}  # fmt: skip
    assert dockyard.api.post("/v1/containers?run=true", json=body).status_code == 202
    shown = wait_status(dockyard.api, container, "Running")
    assert set(shown["addresses"]) == {made["id"]}
    ok(dockyard, "network", "attach", container, spare, "--fixed-ip", "10.71.0.7")
    addresses = dockyard.api.get(f"/v1/containers/{container}").json()["addresses"]
    assert addresses[internal["id"]][0]["addr"] == "10.71.0.7"
    assert "already connected" in refused(dockyard, "network", "attach", container, spare)
    assert "in use" in refused(dockyard, "network", "delete", spare)
    ok(dockyard, "network", "detach", container, spare)
    ok(dockyard, "network", "delete", spare)
    assert "No network" in refused(dockyard, "network", "show", spare)
    assert json.loads(ok(dockyard, "network", "show", name, "--format", "json"))["id"] == made["id"]
