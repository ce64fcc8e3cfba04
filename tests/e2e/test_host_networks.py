"""What each host must carry of tenant networks, read through the agent API as the hosts'
agents read it: HostNetworks (tunnel address, peers, name records, rules with addresses
resolved) in assignment batches, with a revision that moves when it changes, and the ports
each container or sandbox plugs in.

Two hand-made hosts join `dockyard serve` with the join token (no agent runs on them: this is
the control plane's side); containers are placed on them by name.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

JOIN = "netapi-join-token-" + secrets.token_hex(8)


@dataclass
class Host:
    name: str
    uuid: str
    credential: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[DockyardProcess]:
    proc = DockyardProcess(tmp_path_factory.mktemp("hostnets"), DOCKYARD_AGENT__JOIN_TOKEN=JOIN)
    proc.start(timeout=90)
    yield proc
    proc.stop()
    proc.remove_engine_objects()


def join(server: DockyardProcess, name: str, agent_url: str, tunnel_ip: str | None) -> Host:
    body = {"hostname": name, "agent_url": agent_url, "agent_token": secrets.token_hex(16),
            "cpus": 8, "mem_total": 8192, "disk_total": 100, "runtimes": ["runc"],
            "tunnel_ip": tunnel_ip}  # fmt: skip
    made = httpx.post(f"{server.url}/agent/v1/hosts", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {JOIN}"})  # fmt: skip
    assert made.status_code == 200, made.text
    return Host(name, made.json()["uuid"], made.json()["credential"])


@pytest.fixture(scope="module")
def hosts(server: DockyardProcess) -> tuple[Host, Host]:
    first = join(server, unique_name("ha"), "http://192.0.2.10:7000", "198.51.100.10")
    second = join(server, unique_name("hb"), "http://192.0.2.20:7000", None)
    return first, second


def batch(server: DockyardProcess, host: Host, since: int = 0, full: bool = False) -> Any:
    params = {"since": str(since), "wait": "0", "full": str(full).lower()}
    read = httpx.get(f"{server.url}/agent/v1/hosts/{host.uuid}/assignments", params=params,
                     headers=host.headers(), timeout=30)  # fmt: skip
    assert read.status_code == 200, read.text
    return read.json()


def place(api: httpx.Client, host: Host, network: str) -> dict[str, Any]:
    body = {"name": unique_name("hn"), "image": TEST_IMAGE, "command": SLEEP_FOREVER,
            "host": host.name, "nets": [{"network": network}]}  # fmt: skip
    made = api.post("/v1/containers", json=body)
    assert made.status_code == 202, made.text
    uuid = made.json()["uuid"]
    wait_for(lambda: api.get(f"/v1/containers/{uuid}").json()["host"] == host.name,
             what="placement on the hand-made host")  # fmt: skip
    return dict(api.get(f"/v1/containers/{uuid}").json())


def ports_in(found: Any, uuid: str, sandbox: str | None) -> list[dict[str, Any]]:
    """A standalone container's own ports, or its sandbox's."""
    if sandbox:
        return [p for s in found["sandboxes"] if s["uuid"] == sandbox for p in s["ports"]]
    return [p for c in found["containers"] if c["uuid"] == uuid for p in c["ports"]]


def test_host_networks_peers_names_rules_and_ports(
    server: DockyardProcess, hosts: tuple[Host, Host], tmp_path: Path
) -> None:
    first, second = hosts
    with (
        server.client("1.40") as api,
        httpx.Client(base_url=f"{server.url}/network/v2.0", timeout=30) as neutron,
    ):
        net = neutron.post("/networks", json={"network": {"name": unique_name("hn")}}).json()
        net_id = net["network"]["id"]
        body = {"subnet": {"network_id": net_id, "cidr": "10.63.0.0/24"}}
        assert neutron.post("/subnets", json=body).status_code == 201
        a, b = place(api, first, net_id), place(api, second, net_id)
        ip_a, ip_b = a["addresses"][net_id][0]["addr"], b["addresses"][net_id][0]["addr"]
        batch(server, second)  # B's agent reads first: it now carries the network
        seen = batch(server, first, full=True)
        carried = seen["networks"]
        assert carried["tunnel_ip"] == "198.51.100.10"
        [spec] = carried["networks"]
        assert (spec["uuid"], spec["cidr"], spec["gateway"]) == (net_id, "10.63.0.0/24",
                                                                 "10.63.0.1")  # fmt: skip
        assert spec["peers"] == ["192.0.2.20"]  # B's agent_url host: it gave no tunnel_ip
        assert spec["vni"] == neutron.get(f"/networks/{net_id}").json()["network"][
            "provider:segmentation_id"]  # fmt: skip
        names = {r["name"]: r["ip"] for r in carried["dns"][net_id]}
        assert names == {a["name"]: ip_a, b["name"]: ip_b}
        [port] = ports_in(seen, a["uuid"], a.get("sandbox_id"))
        assert (port["ip"], port["network_id"], port["prefixlen"]) == (ip_a, net_id, 24)
        assert port["gateway"] == "10.63.0.1"
        [group] = port["security_groups"]
        ingress = [r for r in carried["security_groups"][group] if r["direction"] == "ingress"]
        assert ingress[0]["remote_addresses"] == sorted([ip_a, ip_b])
        # Unchanged: the next batch carries no networks; a third container moves them.
        again = batch(server, first, since=seen["revision"])
        assert again["networks"] is None
        c = place(api, second, net_id)
        batch(server, second)
        moved = batch(server, first, since=seen["revision"])
        assert moved["networks"]["revision"] > carried["revision"]
        assert c["name"] in {r["name"] for r in moved["networks"]["dns"][net_id]}
        in_use = neutron.delete(f"/networks/{net_id}")
        assert in_use.status_code == 409
