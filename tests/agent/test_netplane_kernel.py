"""The kernel network backend driven directly, hosts and containers as network namespaces.

HostNetworks and PortBindings are built here as the control plane would send them; the
assertions are about real traffic between namespaces over real VXLAN devices.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from dockyard.agent.netplane.backend import bridge_name, port_device, vxlan_name
from dockyard.agent.netplane.shell import KernelError
from dockyard.agent.netplane.vxlan import KernelBackend
from dockyard.schemas.netplane import (
    DnsRecord,
    HostNetworks,
    NetworkSpec,
    PortBinding,
    SecurityRule,
)
from tests.support import netbed
from tests.support.kernelbed import KernelBed

CIDR = "10.77.0.0/24"
GATEWAY = "10.77.0.1"
OPEN = "open"  # a group letting everything in and out
WEB = "web"  # in: tcp 8080 only; out: anything
EVERYTHING_OUT = SecurityRule(direction="egress")


@pytest.fixture(scope="module")
def kbed() -> Iterator[KernelBed]:
    bed = KernelBed(3).start()
    yield bed
    bed.close()
    assert not bed.leftovers(), bed.leftovers()


def network(vni: int, peers: list[str], internal: bool = False) -> NetworkSpec:
    return NetworkSpec(
        uuid=f"net-{vni}", project_id="p1", vni=vni, cidr=CIDR, gateway=GATEWAY,
        internal=internal, peers=peers,
    )  # fmt: skip


def groups(web_ports: tuple[int, ...] = (8080,)) -> dict[str, list[SecurityRule]]:
    web = [
        SecurityRule(direction="ingress", protocol="tcp", port_range_min=p, port_range_max=p)
        for p in web_ports
    ]
    return {
        OPEN: [SecurityRule(direction="ingress"), EVERYTHING_OUT],
        WEB: [*web, EVERYTHING_OUT],
    }


def port(net: NetworkSpec, last: int, group: str = OPEN) -> PortBinding:
    return PortBinding(
        port_id=str(uuid.uuid4()), network_id=net.uuid, ip=f"10.77.0.{last}", prefixlen=24,
        mac=f"fa:16:3e:00:{net.vni % 256:02x}:{last:02x}", gateway=GATEWAY,
        security_groups=[group],
    )  # fmt: skip


def host_view(bed: KernelBed, me: int, specs: list[tuple[int, bool]], **kw: object) -> HostNetworks:
    """What the control plane sends host `me`: the listed networks (VNI, internal), whose
    peers are the other hosts of the bed."""
    peers = [a for i, a in enumerate(bed.addresses) if i != me]
    nets = [network(vni, peers, internal) for vni, internal in specs]
    return HostNetworks(revision=1, tunnel_ip=bed.addresses[me], networks=nets, **kw)


def test_same_network_across_hosts_isolated_from_an_overlapping_one(kbed: KernelBed) -> None:
    # Networks 101 and 102 share a CIDR; both on hosts 0 and 1.
    for i in (0, 1):
        kbed.backends[i].apply(
            host_view(kbed, i, [(101, False), (102, False)], security_groups=groups())
        )
    a, b = network(101, []), network(102, [])
    c1, c2, c3, c4 = (kbed.container() for _ in range(4))
    kbed.backends[0].connect(c1.pid, [port(a, 2)])
    p2 = port(a, 3, WEB)
    kbed.backends[1].connect(c2.pid, [p2])
    kbed.backends[0].connect(c3.pid, [port(b, 2)])  # same address as c1, other network
    kbed.backends[1].connect(c4.pid, [port(b, 3)])  # same address as c2, other network
    for container, word in ((c2, "c2"), (c4, "c4")):
        container.serve(8080, word)
        container.serve(8081, f"{word}-8081")

    assert c1.reach("10.77.0.3", 8080) == "c2"  # across hosts, by address
    assert c3.reach("10.77.0.3", 8080) == "c4"  # the other network sees only its own
    # Group WEB opens 8080 only: 8081 is closed to c1, open on c4 (group OPEN).
    assert c1.reach("10.77.0.3", 8081, timeout=1).startswith("FAIL")
    assert c3.reach("10.77.0.3", 8081) == "c4-8081"

    # A rule added to the group opens the port; taking it out closes it again.
    kbed.backends[1].apply(
        host_view(kbed, 1, [(101, False), (102, False)], security_groups=groups((8080, 8081)))
    )
    assert c1.reach("10.77.0.3", 8081) == "c2-8081"
    kbed.backends[1].apply(
        host_view(kbed, 1, [(101, False), (102, False)], security_groups=groups())
    )
    assert c1.reach("10.77.0.3", 8081, timeout=1).startswith("FAIL")

    # Detach: unreachable; attach again (same port): reachable.
    kbed.backends[1].disconnect([p2.port_id])
    assert port_device(p2.port_id) not in kbed.host_links(1)
    assert c1.reach("10.77.0.3", 8080, timeout=1).startswith("FAIL")
    kbed.backends[1].connect(c2.pid, [p2])
    kbed.backends[1].connect(c2.pid, [p2])  # idempotent
    assert c1.reach("10.77.0.3", 8080) == "c2"
    # Attached anew as another port: same address, another MAC. c1 knew the old MAC; the
    # new port's gratuitous ARP tells it at once (else ≈30 s until its cache expires).
    kbed.backends[1].disconnect([p2.port_id])
    again = p2.model_copy(update={"port_id": str(uuid.uuid4()), "mac": "fa:16:3e:aa:bb:cc"})
    kbed.backends[1].connect(c2.pid, [again])
    assert c1.reach("10.77.0.3", 8080) == "c2"


def test_names_egress_and_internal_networks(kbed: KernelBed) -> None:
    dns = {"net-201": [DnsRecord(name="web", ip="10.77.0.3")]}
    specs = [(201, False), (202, True)]
    for i in (0, 2):
        kbed.backends[i].apply(host_view(kbed, i, specs, security_groups=groups(), dns=dns))
    outside, inside = network(201, []), network(202, [])
    c1, c2, c3 = kbed.container(), kbed.container(), kbed.container()
    kbed.backends[0].connect(c1.pid, [port(outside, 2)])
    kbed.backends[2].connect(c2.pid, [port(outside, 3)])
    kbed.backends[0].connect(c3.pid, [port(inside, 2)])
    c2.serve(8080, "web")

    # Host 0's responder answers for a container on host 2; unknown names are refused.
    assert c1.resolve("web", GATEWAY) == "10.77.0.3"
    assert c1.resolve("nope", GATEWAY) == "rcode 5"
    assert c3.resolve("web", GATEWAY) == "rcode 5"  # another network's names are not its own
    assert c1.reach("10.77.0.3", 8080) == "web"

    reached = kbed.listen_outside(18431)
    assert c1.reach(kbed.gateway, 18431) == "world"  # egress, masqueraded
    assert reached.is_set()
    assert c3.reach(kbed.gateway, 18431, timeout=1).startswith("FAIL")  # internal: none
    # The host itself is not reachable from a network (only its name server is).
    assert c1.reach(kbed.addresses[0], 22, timeout=1).startswith("FAIL")


def test_peers_follow_hosts_and_removal_leaves_nothing(kbed: KernelBed) -> None:
    backend = kbed.backends[2]
    view = host_view(kbed, 2, [(301, False)])
    backend.apply(view)
    backend.apply(view)  # idempotent
    vx = vxlan_name(301)
    assert fdb_peers(kbed, 2, vx) == set(kbed.addresses[:2])
    # Host 1 leaves: its entry goes; it comes back: the entry too.
    one_peer = view.model_copy(update={"networks": [network(301, [kbed.addresses[0]])]})
    backend.apply(one_peer)
    assert fdb_peers(kbed, 2, vx) == {kbed.addresses[0]}
    backend.apply(view)
    assert fdb_peers(kbed, 2, vx) == set(kbed.addresses[:2])
    c = kbed.container()
    backend.connect(c.pid, [port(network(301, []), 9)])
    # The network goes from this host: its devices and ports with it.
    backend.apply(HostNetworks(revision=2, tunnel_ip=kbed.addresses[2]))
    links = kbed.host_links(2)
    assert not [name for name in links if name.startswith("dy")], links
    assert bridge_name(301) not in links
    backend.teardown()
    rules = netbed.run("ip", "-n", kbed.netns[2], "rule", "show").stdout
    assert "0xd" not in rules, rules
    assert "dyn" not in rules, rules
    tables = netbed.run("ip", "netns", "exec", kbed.netns[2], "nft", "list", "tables").stdout
    assert "dockyard_host" not in tables, tables


def fdb_peers(bed: KernelBed, index: int, device: str) -> set[str]:
    out = netbed.run("bridge", "-n", bed.netns[index], "fdb", "show", "dev", device).stdout
    return {
        line.split(" dst ")[1].split()[0]
        for line in out.splitlines()
        if line.startswith("00:00:00:00:00:00") and " dst " in line
    }


def test_two_agents_in_one_namespace_leave_each_other_alone(kbed: KernelBed) -> None:
    """Test servers share a namespace: each backend changes only what carries its tag."""
    mine = kbed.backends[1]
    other = KernelBackend(str(netbed.NETNS_DIR / kbed.netns[1]), owner="other")
    try:
        other.apply(host_view(kbed, 1, [(402, False)]))
        mine.apply(host_view(kbed, 1, [(401, False)]))
        mine.apply(HostNetworks(revision=3, tunnel_ip=kbed.addresses[1]))  # mine: none left
        links = kbed.host_links(1)
        assert bridge_name(402) in links
        assert bridge_name(401) not in links
        tables = netbed.run("ip", "netns", "exec", kbed.netns[1], "nft", "list", "tables").stdout
        assert "dockyard_other" in tables, tables
        rules = netbed.run("ip", "-n", kbed.netns[1], "rule", "show").stdout
        assert bridge_name(402) in rules, rules
        # A VNI another agent holds here is refused, not taken over.
        with pytest.raises(KernelError, match="another agent"):
            mine.apply(host_view(kbed, 1, [(402, False)]))
    finally:
        other.teardown()
        other.close()
    assert bridge_name(402) not in kbed.host_links(1)


def test_a_stopped_agent_s_network_is_taken_over(kbed: KernelBed) -> None:
    """An agent back with a new tag (a new state directory) carries the networks its
    stopped predecessor left; a running agent's stay refused (the test above)."""
    mine = kbed.backends[1]
    before = KernelBackend(str(netbed.NETNS_DIR / kbed.netns[1]), owner="before")
    before.apply(host_view(kbed, 1, [(403, False)]))
    before.close()  # as its process's end would: the lock is free, the kernel objects stay
    assert bridge_name(403) in kbed.host_links(1)
    mine.apply(host_view(kbed, 1, [(403, False)]))
    shown = netbed.run("ip", "-n", kbed.netns[1], "-j", "link", "show", bridge_name(403)).stdout
    assert f"dockyard:{mine.owner}" in shown, shown
    tables = netbed.run("ip", "netns", "exec", kbed.netns[1], "nft", "list", "tables").stdout
    assert "dockyard_before" not in tables, tables
    mine.apply(HostNetworks(revision=9, tunnel_ip=kbed.addresses[1]))
    assert bridge_name(403) not in kbed.host_links(1)


def test_a_new_name_or_rule_alone_remakes_no_device(
    kbed: KernelBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container coming to a network carried here moves only the names: the devices stay
    as the last apply made them (no command runs) and the new name answers at once; a rule
    change reloads the rules only; another peer makes the whole apply run again."""
    backend = kbed.backends[0]
    specs = [(501, False)]
    backend.apply(host_view(kbed, 0, specs, security_groups=groups()))
    c1 = kbed.container()
    backend.connect(c1.pid, [port(network(501, []), 2)])
    commands: list[str] = []
    run, ok, nft = backend.shell.run, backend.shell.ok, backend.shell.nft

    def counted_run(*argv: str, **kw: object) -> str:
        commands.append(argv[0])
        return run(*argv, **kw)  # type: ignore[arg-type]

    def counted_ok(*argv: str) -> bool:
        commands.append(argv[0])
        return ok(*argv)

    def counted_nft(script: str, check: bool = True) -> str:
        commands.append("nft")  # run in this process (nftlib), counted as a command
        return nft(script, check)

    monkeypatch.setattr(backend.shell, "run", counted_run)
    monkeypatch.setattr(backend.shell, "ok", counted_ok)
    monkeypatch.setattr(backend.shell, "nft", counted_nft)
    dns = {"net-501": [DnsRecord(name="newcomer", ip="10.77.0.7")]}
    named = host_view(kbed, 0, specs, security_groups=groups(), dns=dns)
    backend.apply(named.model_copy(update={"revision": 2}))
    assert commands == []
    assert c1.resolve("newcomer", GATEWAY) == "10.77.0.7"

    backend.apply(named.model_copy(update={"revision": 3, "security_groups": groups((8081,))}))
    assert commands == ["nft"]

    commands.clear()
    moved = host_view(kbed, 0, specs, security_groups=groups((8081,)), dns=dns)
    fewer = moved.networks[0].model_copy(update={"peers": [kbed.addresses[1]]})  # host 2 left
    backend.apply(moved.model_copy(update={"revision": 4, "networks": [fewer]}))
    assert "bridge" in commands, commands  # the peers' FDB entries were looked at again
    assert fdb_peers(kbed, 0, vxlan_name(501)) == {kbed.addresses[1]}
    assert c1.resolve("newcomer", GATEWAY) == "10.77.0.7"


def test_an_expected_port_s_rules_are_loaded_before_it_is_plugged(
    kbed: KernelBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A port announced with an apply has its rules loaded then; plugging it later runs no
    nft (a standalone container is plugged after its start), and its traffic is filtered
    by those rules."""
    backend = kbed.backends[2]
    view = host_view(kbed, 2, [(601, False)], security_groups=groups())
    backend.apply(view)
    net = network(601, [])
    server, client = kbed.container(), kbed.container()
    served = port(net, 5, WEB)
    backend.connect(server.pid, [served])
    server.serve(8080, "web")
    server.serve(8081, "web-8081")
    coming = port(net, 4)
    backend.apply(view.model_copy(update={"revision": 2}), expected=[coming])
    assert f"out_{port_device(coming.port_id)}" in _ruleset(kbed, 2)

    commands: list[str] = []
    run, nft = backend.shell.run, backend.shell.nft

    def counted_run(*argv: str, **kw: object) -> str:
        commands.append(argv[0])
        return run(*argv, **kw)  # type: ignore[arg-type]

    def counted_nft(script: str, check: bool = True) -> str:
        commands.append("nft")
        return nft(script, check)

    monkeypatch.setattr(backend.shell, "run", counted_run)
    monkeypatch.setattr(backend.shell, "nft", counted_nft)
    backend.connect(client.pid, [coming])
    assert "nft" not in commands, commands
    assert client.reach("10.77.0.5", 8080) == "web"
    assert client.reach("10.77.0.5", 8081, timeout=1).startswith("FAIL")  # group WEB: 8080


def _ruleset(bed: KernelBed, index: int) -> str:
    return netbed.run("ip", "netns", "exec", bed.netns[index], "nft", "list", "ruleset").stdout


def test_a_plugged_port_is_configured_as_ip_shows_it(kbed: KernelBed) -> None:
    """The port is plugged over netlink from the agent's process: what `ip` reads back is
    what the `ip` commands made before (names, MAC, MTU, alias, master, address, routes)."""
    backend = kbed.backends[2]
    net = network(601, []).model_copy(update={"mtu": 1400})
    backend.apply(host_view(kbed, 2, []).model_copy(update={"networks": [net]}))
    second = network(602, [])
    backend.apply(host_view(kbed, 2, []).model_copy(update={"networks": [net, second]}))
    c = kbed.container()
    first, other = port(net, 7), port(second, 8)
    backend.connect(c.pid, [first])
    backend.connect(c.pid, [other])
    host = netbed.run(
        "ip", "-n", kbed.netns[2], "-j", "-d", "link", "show", port_device(first.port_id)
    )
    [end] = json.loads(host.stdout)
    assert (end["ifalias"], end["master"], end["mtu"]) == (backend.alias, bridge_name(601), 1400)
    assert "UP" in end["flags"]
    inside = f"/proc/{c.pid}/ns/net"
    links = {
        link["ifname"]: link
        for link in json.loads(netbed.run("nsenter", f"--net={inside}", "ip", "-j", "addr").stdout)
    }
    assert set(links) == {"lo", "eth0", "eth1"}
    assert all("UP" in link["flags"] for link in links.values())
    assert (links["eth0"]["address"], links["eth0"]["mtu"]) == (first.mac, 1400)
    assert links["eth1"]["address"] == other.mac
    addresses = {
        name: [(a["local"], a["prefixlen"]) for a in link["addr_info"] if a["family"] == "inet"]
        for name, link in links.items()
    }
    assert addresses["eth0"] == [("10.77.0.7", 24)]
    assert addresses["eth1"] == [("10.77.0.8", 24)]
    routes = json.loads(netbed.run("nsenter", f"--net={inside}", "ip", "-j", "route").stdout)
    # The first network plugged gives the default route; the second adds only its subnet.
    assert [r["dev"] for r in routes if r["dst"] == "default"] == ["eth0"]
    assert [r["gateway"] for r in routes if r["dst"] == "default"] == [GATEWAY]
    backend.disconnect([first.port_id, other.port_id])
    ends = {port_device(first.port_id), port_device(other.port_id)}
    assert not ends & set(kbed.host_links(2))
    backend.apply(HostNetworks(revision=2, tunnel_ip=kbed.addresses[2]))
