"""A container's networks through the real `openstack` CLI.

`openstack appcontainer network list C` cannot print a row with the clients of this
deployment, whatever the server answers: python-zunclient 5.5.0 gives osc-lib a plain
function as the `fixed_ips` formatter, and osc-lib (>= 4.6, which python-openstackclient
10.5 requires) accepts only FormattableColumn classes, so it raises "Invalid formatter
provided." on the first row, before printing anything. These tests pin that the failure is
the client's alone (the server answered the rows the command asked for, in the shape of the
microversion it asked at: one per port with `fixed_ips` from 1.18, one per address before)
and that the unchanged client's other way to the same facts, `openstack port list
--device-id C`, prints them.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.osc import OPENSTACK, OpenStackCli, Osc
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_gone
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine

CLIENT_BUG = "Invalid formatter provided."


@pytest.fixture(scope="module")
def container(server: DockyardProcess) -> Iterator[dict[str, Any]]:
    """A container on a network of its own with a fixed address (it needs no engine work to
    hold the port: the port is made with the container)."""
    with (
        server.client() as api,
        httpx.Client(base_url=f"{server.url}/network/v2.0", timeout=30) as neutron,
    ):
        net = neutron.post("/networks", json={"network": {"name": unique_name("ls")}})
        net_id = net.json()["network"]["id"]
        subnet = neutron.post("/subnets", json={"subnet": {"network_id": net_id,
                                                           "cidr": "10.66.0.0/24"}})  # fmt: skip
        body = {"name": unique_name("ls"), "image": TEST_IMAGE, "command": SLEEP_FOREVER,
                "nets": [{"network": net_id, "v4-fixed-ip": "10.66.0.7"}]}  # fmt: skip
        made = api.post("/v1/containers", json=body)
        assert made.status_code == 202, made.text
        found = {**made.json(), "net_id": net_id, "subnet_id": subnet.json()["subnet"]["id"]}
        yield found
        api.delete(f"/v1/containers/{found['uuid']}", params={"force": "true"})
        wait_gone(api, found["uuid"])
        neutron.delete(f"/networks/{net_id}")


def _answer(debug: str) -> Any:
    """The body of the network_list response in an `openstack --debug` log."""
    bodies = re.findall(r"RESP BODY: (\{\"networks\".*)$", debug, re.M)
    assert bodies, debug[-3000:]
    return json.loads(bodies[-1])


@pytest.mark.parametrize("version", ["1.13", "1.18", "1.40"])
def test_network_list_fails_only_in_the_client_after_the_right_answer(
    server: DockyardProcess, container: dict[str, Any], tmp_path: Path, version: str
) -> None:
    cli = Osc(server.url, tmp_path)
    command = [OPENSTACK, *cli.auth, "--os-endpoint", cli.endpoint, "--debug",
               "--os-container-api-version", version, "appcontainer", "network", "list",
               container["uuid"]]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=cli.env, timeout=90,
                          check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr
    # The server answered 200; then osc-lib refused zunclient's formatter, in the client.
    assert re.search(r'"GET /v1/containers/\S+/network_list HTTP/1.1" 200', done.stderr)
    assert f"osc_lib.exceptions.CommandError: {CLIENT_BUG}" in done.stderr
    assert "in get_item_properties" in done.stderr
    answered = _answer(done.stderr)
    port = container["addresses"][container["net_id"]][0]["port"]
    if tuple(map(int, version.split("."))) >= (1, 18):
        assert answered == {"networks": [{
            "net_id": container["net_id"], "port_id": port,
            "fixed_ips": [{"subnet_id": container["subnet_id"], "version": 4,
                           "ip_address": "10.66.0.7"}]}]}  # fmt: skip
    else:
        assert answered == {"networks": [{
            "net_id": container["net_id"], "subnet_id": container["subnet_id"],
            "port_id": port, "version": 4, "ip_address": "10.66.0.7"}]}  # fmt: skip


def test_port_list_by_device_prints_the_containers_addresses(
    server: DockyardProcess, container: dict[str, Any], tmp_path: Path
) -> None:
    cli = OpenStackCli(f"{server.url}/network", tmp_path)
    rows = cli.json("port", "list", "--device-id", container["uuid"])
    port = container["addresses"][container["net_id"]][0]["port"]
    assert [r["ID"] for r in rows] == [port]
    assert rows[0]["Fixed IP Addresses"] == [
        {"subnet_id": container["subnet_id"], "ip_address": "10.66.0.7"}]  # fmt: skip
