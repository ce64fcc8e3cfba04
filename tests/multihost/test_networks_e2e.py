"""Tenant networks end to end on the many-host bed: networks made through the Neutron API,
containers run with `nets` on chosen hosts through Zun's API, the agents' kernel backend
carrying them: by address and by name across hosts, a same-CIDR network isolated,
detach/attach changing reachability, egress out of the hosts.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.multihost.common import engine_ids, run, wait_settled
from tests.support.multihost import Bed, Host
from tests.support.wait import wait_for

SERVE = ["sh", "-c", "while :; do echo {word} | nc -l -p 8080; done"]


@pytest.fixture
def neutron(bed: Bed) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{bed.apis[0].url}/network/v2.0", timeout=30) as client:
        yield client


def make_network(neutron: httpx.Client, cidr: str) -> dict[str, Any]:
    made = neutron.post("/networks", json={"network": {"name": f"mh-{secrets.token_hex(3)}"}})
    assert made.status_code == 201, made.text
    network: dict[str, Any] = made.json()["network"]
    body = {"subnet": {"network_id": network["id"], "cidr": cidr}}
    subnet = neutron.post("/subnets", json=body)
    assert subnet.status_code == 201, subnet.text
    return network


def address_on(api: httpx.Client, uuid: str, network_id: str) -> str:
    shown = api.get(f"/v1/containers/{uuid}").json()
    return str(shown["addresses"][network_id][0]["addr"])


def ask(host: Host, uuid: str, target: str, port: int = 8080) -> str:
    """What a server at target:port says to the container uuid on host (FAIL if nothing)."""
    client = host.engine_client()
    try:
        container = client.containers.get(engine_ids(host, uuid)[-1])
        result = container.exec_run(["sh", "-c", f"echo | nc -w 2 {target} {port}"])
    finally:
        client.close()
    out = str(result.output.decode().strip())
    return out if result.exit_code == 0 and out else f"FAIL {out}"


def eventually(probe: Any, expected: str, timeout: float = 30) -> None:
    wait_for(lambda: probe() == expected, timeout, interval=1, what=f"answer {expected!r}")


def test_tenant_networks_across_hosts(bed: Bed, api: httpx.Client, neutron: httpx.Client) -> None:
    blue, red = make_network(neutron, "10.62.0.0/24"), make_network(neutron, "10.62.0.0/24")
    a, b = bed.hosts[0], bed.hosts[1]
    web = run(api, "web", command=_serve("blue"), host=b.name, nets=[{"network": blue["id"]}])
    client = run(api, "client", host=a.name, nets=[{"network": blue["id"]}])
    # Another network with the same CIDR, its own "web" at whatever address it gets.
    run(api, "redweb", command=_serve("red"), host=b.name, nets=[{"network": red["id"]}])
    stranger = run(api, "stranger", host=a.name, nets=[{"network": red["id"]}])
    for made in (web, client, stranger):
        assert wait_settled(api, made["uuid"])["status"] == "Running"
    web_ip = address_on(api, web["uuid"], blue["id"])

    eventually(lambda: ask(a, client["uuid"], web_ip), "blue")  # by address, host A to B
    eventually(lambda: ask(a, client["uuid"], "web"), "blue")  # by name
    assert ask(a, stranger["uuid"], "web") != "blue"  # red has its own web
    assert ask(a, stranger["uuid"], web_ip) != "blue"  # the same address on red is not blue

    detached = api.post(f"/v1/containers/{web['uuid']}/network_detach?network={blue['id']}")
    assert detached.status_code == 202, detached.text
    eventually(lambda: ask(a, client["uuid"], web_ip)[:4], "FAIL")
    attached = api.post(f"/v1/containers/{web['uuid']}/network_attach?network={blue['id']}")
    assert attached.status_code == 200, attached.text
    eventually(lambda: ask(a, client["uuid"], "web"), "blue")

    port, listener = _outside(bed)
    try:
        assert ask(a, client["uuid"], bed.gateway, port) == "outside"  # egress, masqueraded
    finally:
        listener.close()


def _serve(word: str) -> list[str]:
    return [SERVE[0], SERVE[1], SERVE[2].format(word=word)]


def _outside(bed: Bed) -> tuple[int, socket.socket]:
    """A server in the root namespace on the bed's bridge: the world beyond the hosts."""
    sock = socket.socket()
    sock.bind((bed.gateway, 0))
    sock.listen(4)

    def serve() -> None:
        try:
            while True:
                conn, _ = sock.accept()
                conn.sendall(b"outside\n")
                conn.close()
        except OSError:
            return

    threading.Thread(target=serve, daemon=True).start()
    return int(sock.getsockname()[1]), sock
