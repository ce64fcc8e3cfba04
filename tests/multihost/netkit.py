"""What the tenant-network tests of the bed share: networks through the Neutron API, asking a
container's way to a server, listeners outside the tenant networks, the hosts' kernel state."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
from typing import Any

import httpx
import pytest

from dockyard.agent.netplane.dns import in_netns
from tests.multihost.common import engine_ids
from tests.support import netbed
from tests.support.multihost import Bed, Host
from tests.support.wait import wait_for


def make_network(neutron: httpx.Client, cidr: str, **subnet_fields: Any) -> dict[str, Any]:
    made = neutron.post("/networks", json={"network": {"name": f"mh-{secrets.token_hex(3)}"}})
    assert made.status_code == 201, made.text
    network: dict[str, Any] = made.json()["network"]
    body = {"subnet": {"network_id": network["id"], "cidr": cidr, **subnet_fields}}
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
    """Probe every second until it answers `expected`; a timeout names every other answer
    seen, in order (a refused name, a timed-out connection and a wrong server differ)."""
    answers: list[str] = []

    def matches() -> bool:
        answer = probe()
        if not answers or answers[-1] != answer:
            answers.append(answer)
        return bool(answer == expected)

    with contextlib.suppress(pytest.fail.Exception):
        wait_for(matches, timeout, interval=1)
        return
    pytest.fail(f"timed out waiting for the answer {expected!r}; answers seen: {answers!r}")


def serve(*words: tuple[int, str]) -> list[str]:
    """A command serving each (port, word): the word to whoever connects to the port."""
    loops = [f"while :; do echo {word} | nc -l -p {port}; done" for port, word in words]
    return ["sh", "-c", " & ".join(loops)]


def listener(
    address: str, netns: str | None = None, idle: float | None = None
) -> tuple[int, socket.socket]:
    """A server saying 'outside' at address (in a host's namespace, or the root one): a
    place beyond every tenant network. With `idle`, it closes after that many seconds
    without a connection (for a caller that does not keep the socket to close it)."""

    def bound() -> socket.socket:
        sock = socket.socket()
        sock.bind((address, 0))
        sock.listen(4)
        sock.settimeout(idle)
        return sock

    sock = in_netns(str(netbed.NETNS_DIR / netns) if netns else None, bound)

    def answer() -> None:
        try:
            while True:
                conn, _ = sock.accept()
                conn.sendall(b"outside\n")
                conn.close()
        except OSError:
            sock.close()

    threading.Thread(target=answer, daemon=True).start()
    return int(sock.getsockname()[1]), sock


# --- the hosts' kernel state -----------------------------------------------------------------


def in_host(host: Host, *argv: str) -> str:
    return netbed.run("nsenter", f"--net={netbed.NETNS_DIR / host.netns}", *argv).stdout


def links(host: Host) -> set[str]:
    return {link["ifname"] for link in json.loads(in_host(host, "ip", "-j", "link", "show"))}


def fdb_peers(host: Host, device: str) -> set[str]:
    """The head-end replication entries of a VXLAN device (none if it is not there)."""
    if device not in links(host):
        return set()
    entries = json.loads(in_host(host, "bridge", "-j", "fdb", "show", "dev", device) or "[]")
    return {e["dst"] for e in entries if e.get("mac") == "00:00:00:00:00:00" and "dst" in e}


def vni_of(bed: Bed, network_id: str) -> int:
    rows = bed._query("SELECT vni FROM networks WHERE uuid = :u", u=network_id)
    return int(rows[0][0])
