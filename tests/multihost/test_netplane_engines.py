"""The kernel network backend with real engines: containers of 3 Docker engines, each in
its own host namespace, on tenant networks built from HostNetworks made here (as the
control plane sends them). Engines only: no agent runs, so nothing else applies networks.
"""

from __future__ import annotations

import secrets
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.netplane.vxlan import KernelBackend
from dockyard.schemas.netplane import (
    DnsRecord,
    HostNetworks,
    NetworkSpec,
    PortBinding,
    SecurityRule,
)
from tests.multihost.netkit import listener as outside_listener
from tests.support import netbed
from tests.support.multihost import Host
from tests.support.testimage import TEST_IMAGE, ensure_test_image

CIDR, GATEWAY = "10.78.0.0/24", "10.78.0.1"
SERVE = "while :; do echo {word} | nc -l -p {port}; done"
ANYTHING = [SecurityRule(direction="ingress"), SecurityRule(direction="egress")]


@dataclass
class Engines:
    suffix: str
    bridge: str
    gateway: str
    hosts: list[Host]
    backends: list[KernelBackend]


@pytest.fixture(scope="module")
def engines() -> Iterator[Engines]:
    suffix = secrets.token_hex(3)
    root = Path("/tmp") / f"dye{suffix}"
    subnet = netbed.free_subnet()
    gateway = str(subnet.network_address + 1)
    bridge = f"dye{suffix}"
    hosts = [Host(i, suffix, root, str(subnet.network_address + 11 + i)) for i in range(3)]
    made = Engines(suffix, bridge, gateway, hosts, [])
    try:
        root.mkdir(parents=True)
        netbed.add_bridge(bridge, f"{gateway}/{subnet.prefixlen}")
        for host in hosts:
            netbed.add_namespace(host.netns, host.veth, bridge, f"{host.address}/24")
            netbed.run("ip", "-n", host.netns, "route", "add", "default", "via", gateway)
            host.start_engine()
            ensure_test_image(host.docker_url)
            made.backends.append(KernelBackend(str(netbed.NETNS_DIR / host.netns)))
        yield made
    finally:
        _close(made, root)
    left = netbed.leftovers(suffix, root)
    assert not left, left


def _close(made: Engines, root: Path) -> None:
    for backend in made.backends:
        backend.teardown()
        backend.close()
    for host in made.hosts:
        host.remove_engine_objects()
        host.stop_engine()
        host.kill_containerd()
        netbed.remove_namespace(host.netns, host.veth)
    netbed.remove_bridge(made.bridge)
    netbed.unmount_under(root)
    shutil.rmtree(root, ignore_errors=True)


def view(engines: Engines, me: int, nets: list[NetworkSpec], dns: Any = None) -> HostNetworks:
    others = [h.address for i, h in enumerate(engines.hosts) if i != me]
    carried = [n.model_copy(update={"peers": others}) for n in nets]
    groups = {"any": ANYTHING, "web": [*ANYTHING[1:], _tcp(8080)]}
    return HostNetworks(
        revision=1, tunnel_ip=engines.hosts[me].address, networks=carried,
        security_groups=groups, dns=dns or {},
    )  # fmt: skip


def _tcp(port: int) -> SecurityRule:
    return SecurityRule(
        direction="ingress", protocol="tcp", port_range_min=port, port_range_max=port
    )


def run(host: Host, name: str, command: str) -> tuple[Any, int]:
    """A container without a network of its own; its pid, to plug ports into."""
    client = host.engine_client()
    try:
        container = client.containers.run(
            TEST_IMAGE, ["sh", "-c", command], name=name, detach=True, network_mode="none",
            labels={"io.dockyard.test": "netplane"},
        )  # fmt: skip
        container.reload()
        return container, int(container.attrs["State"]["Pid"])
    finally:
        client.close()


def ask(container: Any, target: str, port: int) -> str:
    result = container.exec_run(["sh", "-c", f"echo | nc -w 2 {target} {port}"])
    out = str(result.output.decode().strip())
    return out if result.exit_code == 0 and out else f"FAIL {result.exit_code} {out}"


def binding(net: NetworkSpec, last: int, group: str = "any") -> PortBinding:
    return PortBinding(
        port_id=str(uuid.uuid4()), network_id=net.uuid, ip=f"10.78.0.{last}", prefixlen=24,
        mac=f"02:00:00:00:{net.vni % 256:02x}:{last:02x}", gateway=GATEWAY,
        security_groups=[group],
    )  # fmt: skip


def test_containers_on_three_engines(engines: Engines) -> None:
    blue = NetworkSpec(uuid="blue", project_id="p1", vni=501, cidr=CIDR, gateway=GATEWAY)
    red = NetworkSpec(uuid="red", project_id="p2", vni=502, cidr=CIDR, gateway=GATEWAY)
    shut = NetworkSpec(
        uuid="shut", project_id="p1", vni=503, cidr=CIDR, gateway=GATEWAY, internal=True
    )
    dns = {
        "blue": [DnsRecord(name="web", ip="10.78.0.3")],
        "red": [DnsRecord(name="web", ip="10.78.0.3")],
    }
    a, b, c = engines.backends
    a.apply(view(engines, 0, [blue, red, shut], dns))
    b.apply(view(engines, 1, [blue], dns))
    c.apply(view(engines, 2, [red], dns))

    client, client_pid = run(engines.hosts[0], "client", "sleep 600")
    web, web_pid = run(engines.hosts[1], "web", SERVE.format(word="blue-web", port=8080))
    web_port = binding(blue, 3, "web")
    a.connect(client_pid, [binding(blue, 2)])
    a.configure_resolver(client_pid, ["blue"])
    b.connect(web_pid, [web_port])
    # The red network's "web" has the same address, on another host and another VNI.
    _, red_pid = run(engines.hosts[2], "redweb", SERVE.format(word="red-web", port=8080))
    c.connect(red_pid, [binding(red, 3)])

    assert ask(client, "10.78.0.3", 8080) == "blue-web"  # host A to host B, by address
    assert ask(client, "web", 8080) == "blue-web"  # and by name, through host A's resolver
    stranger, stranger_pid = run(engines.hosts[0], "stranger", "sleep 600")
    a.connect(stranger_pid, [binding(red, 2)])
    assert ask(stranger, "10.78.0.3", 8080) == "red-web"  # its own network's, never blue's
    # Only 8080 is open on the web port: 8081 is not, until a rule opens it.
    web.exec_run(["sh", "-c", SERVE.format(word="blue-8081", port=8081)], detach=True)
    assert ask(client, "10.78.0.3", 8081).startswith("FAIL")
    opened = view(engines, 1, [blue], dns)
    opened.security_groups["web"].append(_tcp(8081))
    b.apply(opened)
    assert ask(client, "10.78.0.3", 8081) == "blue-8081"

    # Detach and attach again.
    b.disconnect([web_port.port_id])
    assert ask(client, "10.78.0.3", 8080).startswith("FAIL")
    b.connect(web_pid, [web_port])
    assert ask(client, "10.78.0.3", 8080) == "blue-web"

    # Egress beyond the host, unless the network is internal.
    outside = f"{engines.gateway}"
    listener, _ = outside_listener(engines.gateway, idle=60)  # the root namespace: the world
    assert ask(client, outside, listener) == "outside"
    closed, closed_pid = run(engines.hosts[0], "closed", "sleep 600")
    a.connect(closed_pid, [binding(shut, 2)])
    assert ask(closed, outside, listener).startswith("FAIL")
