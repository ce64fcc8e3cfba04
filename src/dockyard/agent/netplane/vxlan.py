"""The default backend: tenant networks from the Linux kernel alone, as Flannel's VXLAN does.

Per network carried by this host: a bridge `dyn<vni>` holding the gateway address (the
same address and MAC on every host) and a VXLAN device `dyx<vni>` (VNI of the network,
learning off) enslaved to it, with one all-zero FDB entry per peer host (head-end
replication: broadcasts and unknown unicasts go to every peer, and the bridges learn where
each MAC lives from what comes back). A port is a veth pair: `dyp<port>` on the bridge,
the other end renamed `ethN` inside the sandbox with the control plane's MAC, address and
gateway. Routing to a network's CIDR lives in its own table, chosen by the mark that its
flows carry, so networks of different projects may share a CIDR on one host. Filtering and
NAT are nft.py's; names dns.py's.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from dockyard.agent.netplane import nft, owners, sweep
from dockyard.agent.netplane.backend import (
    BRIDGE_PREFIX,
    PORT_PREFIX,
    RULE_PREF,
    VXLAN_PORT,
    VXLAN_PREFIX,
    bridge_name,
    gateway_mac,
    network_mark,
    port_device,
    vxlan_name,
)
from dockyard.agent.netplane.dns import DnsResponder, Zone, hosts_file, in_netns, resolv_conf
from dockyard.agent.netplane.rtnl import Rtnl
from dockyard.agent.netplane.shell import KernelError, Shell
from dockyard.schemas.netplane import HostNetworks, NetworkSpec, PortBinding

log = logging.getLogger(__name__)

ZERO_MAC = "00:00:00:00:00:00"
DOCKER_USER = "DOCKER-USER"
# Agents sharing a namespace (test servers) stop while this one runs: their objects are swept
# again now and then, on a whole apply (networks changed), never on the container path.
SWEEP_EVERY = 600.0  # seconds


class KernelBackend:
    """VXLAN + bridge + veth + nf_tables; `netns` names the host's namespace in tests.

    `owner` tags everything this backend makes (the links' alias, the nft tables' name):
    it only ever changes or removes what carries its own tag, so that several agents
    sharing one namespace (test servers on one machine) never undo each other's networks.
    """

    def __init__(self, netns: str | None = None, dns_port: int = 53, owner: str = "host") -> None:
        nft.table_name(owner)  # refuses a tag unfit for names
        self.owner = owner
        self.alias = f"dockyard:{owner}"
        self.shell = Shell(netns)
        self.rtnl = Rtnl(netns)  # plugs ports without spawning `ip` (see _plug)
        self.netns = netns
        self._alive = owners.OwnerLock(netns, owner)
        self.dns = DnsResponder(netns, dns_port)
        self.networks: dict[str, NetworkSpec] = {}  # by network uuid
        self.state = HostNetworks(revision=-1)
        self.ports: dict[str, tuple[PortBinding, int]] = {}  # by port id: binding, vni
        self._plumbed: HostNetworks | None = None  # what the last whole apply made
        self._rules_due = False  # the state's rules are not loaded yet (see apply)
        self.expected: dict[str, tuple[PortBinding, int]] = {}  # ports not plugged yet
        self._loaded: dict[str, PortBinding] = {}  # the ports whose rules are loaded
        self._lock = threading.RLock()
        self._swept = 0.0  # monotonic time of the last sweep
        self._sweep()

    def _sweep(self) -> None:
        """Remove what stopped agents of other tags left here (sweep.py): their nft tables
        slow every nft run. A failure only leaves them for the next sweep."""
        self._swept = time.monotonic()
        try:
            sweep.sweep(self.shell, self.netns, self.owner)
        except (KernelError, OSError) as exc:
            log.warning("removing stopped agents' network objects failed: %s", exc)

    # --- networks --------------------------------------------------------------------------

    def apply(
        self,
        networks: HostNetworks,
        *,
        rules_follow: bool = False,
        expected: Sequence[PortBinding] = (),
    ) -> None:
        with self._lock:
            if self._same_plumbing(networks):
                # Only names, rules or the revision moved (a container came or went on a
                # network carried here: its name record): the links, addresses, peers and
                # routes stand as the last apply made them. Rebuilding them is twenty-odd
                # commands, and that ran for every container made on the network.
                if networks.security_groups != self.state.security_groups:
                    self._rules_due = True
                self.state = networks
                self._expect(expected)
                try:
                    if self._rules_due and not rules_follow:
                        self._sync_rules()
                    self.dns.update(self._zones())
                except BaseException:
                    self._plumbed = None  # the next apply does it all again
                    raise
                return
            self._plumbed = None  # until this apply is through
            if time.monotonic() - self._swept >= SWEEP_EVERY:
                self._sweep()
            wanted = {net.uuid: net for net in networks.networks}
            self._prepare_host()
            present = self._present_vnis()
            for gone in present - {n.vni for n in wanted.values()}:
                self._remove_network(gone)
            for net in wanted.values():
                self._ensure_network(net, networks.tunnel_ip)
            self.networks, self.state = wanted, networks
            vnis = {n.vni for n in wanted.values()}
            self.ports = {p: (b, v) for p, (b, v) in self.ports.items() if v in vnis}
            self.expected = {}
            self._expect(expected)
            self._sync_rules()
            self._sync_routing(present | vnis)
            self.dns.update(self._zones())
            self._plumbed = networks

    def _expect(self, expected: Sequence[PortBinding]) -> None:
        """Ports about to be plugged, whose rules may be loaded before their devices exist
        (they match names and addresses): a standalone container's port is plugged after
        the engine started it, and its rules, loaded meanwhile, are then off that path."""
        wanted = {
            b.port_id: (b, self.networks[b.network_id].vni)
            for b in expected
            if b.network_id in self.networks and b.port_id not in self.ports
        }
        if wanted != self.expected:
            self.expected = wanted
            self._rules_due = True

    def _same_plumbing(self, networks: HostNetworks) -> bool:
        """Whether the kernel objects of the last whole apply (in this process) still fit."""
        done = self._plumbed
        return (
            done is not None
            and networks.tunnel_ip == done.tunnel_ip
            and networks.networks == done.networks
        )

    def _prepare_host(self) -> None:
        # Bridged traffic must meet the inet forward hook (security groups, isolation).
        self.shell.sysctl("net.bridge.bridge-nf-call-iptables", "1")
        self.shell.sysctl("net.ipv4.ip_forward", "1")
        # Docker's FORWARD policy is DROP: let our bridges' traffic past its chains (our
        # own nf_tables rules decide, and a drop there is final).
        if self.shell.ok("iptables", "-n", "-L", DOCKER_USER):
            for way in ("-i", "-o"):
                rule = [DOCKER_USER, way, f"{BRIDGE_PREFIX}+", "-j", "ACCEPT"]
                if not self.shell.ok("iptables", "-C", *rule):
                    self.shell.run("iptables", "-I", *rule)

    def _own_links(self) -> list[str]:
        links = self.shell.json("ip", "-j", "link", "show")
        return [link["ifname"] for link in links if link.get("ifalias") == self.alias]

    def _present_vnis(self) -> set[int]:
        return {
            int(name[len(BRIDGE_PREFIX) :], 16)
            for name in self._own_links()
            if name.startswith((BRIDGE_PREFIX, VXLAN_PREFIX)) and len(name) == 9
        }

    def _add_link(self, name: str, *argv: str) -> None:
        """Make a link tagged as ours; one of the same name a running agent tagged is a conflict."""
        if self.shell.ok("ip", "link", "show", name):
            links = self.shell.json("ip", "-j", "link", "show", name)
            other = str(links[0].get("ifalias") or "") if links else self.alias
            if other == self.alias:
                return
            if not self._take_over(name, other):
                raise KernelError(f"{name} exists and belongs to another agent")
        self.shell.run("ip", "link", "add", name, *argv)
        self.shell.run("ip", "link", "set", name, "alias", self.alias)

    def _take_over(self, name: str, alias: str) -> bool:
        """Remove a link (and the nft tables) of a stopped agent; never a running one's."""
        tag = alias.removeprefix("dockyard:")
        if tag == alias or not owners.is_stopped(self.netns, tag):
            return False
        log.warning("taking over %s from a stopped agent (tag %s)", name, tag)
        self.shell.run("ip", "link", "del", name, check=False)
        self.shell.nft(nft.removal(tag), check=False)
        return True

    def _ensure_network(self, net: NetworkSpec, tunnel_ip: str | None) -> None:
        bridge, vxlan = bridge_name(net.vni), vxlan_name(net.vni)
        self._add_link(bridge, "type", "bridge")
        mtu = str(net.mtu)
        self.shell.run("ip", "link", "set", bridge, "address", gateway_mac(net.vni), "mtu", mtu)
        local = ["local", tunnel_ip] if tunnel_ip else []
        self._add_link(
            vxlan, "type", "vxlan", "id", str(net.vni), *local, "dstport", str(VXLAN_PORT),
            "nolearning",
        )  # fmt: skip
        self.shell.run("ip", "link", "set", vxlan, "master", bridge, "mtu", mtu, "up")
        self.shell.run("ip", "link", "set", bridge, "up")
        self._sync_address(net)
        self._sync_fdb(vxlan, set(net.peers))

    def _sync_address(self, net: NetworkSpec) -> None:
        bridge = bridge_name(net.vni)
        prefix = ipaddress.IPv4Network(net.cidr, strict=False).prefixlen
        wanted = {f"{net.gateway}/{prefix}"} if net.gateway else set()
        info = self.shell.json("ip", "-j", "-4", "addr", "show", "dev", bridge)
        have = {f"{a['local']}/{a['prefixlen']}" for i in info for a in i.get("addr_info", [])}
        for extra in have - wanted:
            self.shell.run("ip", "addr", "del", extra, "dev", bridge)
        for missing in wanted - have:
            # No route in the main table: the network's own table routes to it (see above).
            self.shell.run("ip", "addr", "add", missing, "dev", bridge, "noprefixroute")

    def _sync_fdb(self, vxlan: str, peers: set[str]) -> None:
        """One all-zero entry per peer (head-end replication), no more, no fewer."""
        entries = self.shell.json("bridge", "-j", "fdb", "show", "dev", vxlan)
        have = {e["dst"] for e in entries if e.get("mac") == ZERO_MAC and "dst" in e}
        for gone in have - peers:
            self.shell.run("bridge", "fdb", "del", ZERO_MAC, "dev", vxlan, "dst", gone)
        for peer in peers - have:
            self.shell.run("bridge", "fdb", "append", ZERO_MAC, "dev", vxlan, "dst", peer)

    def _remove_network(self, vni: int) -> None:
        for port_id, (_, port_vni) in list(self.ports.items()):
            if port_vni == vni:
                self._unplug(port_id)
        for name in (vxlan_name(vni), bridge_name(vni)):
            self.shell.run("ip", "link", "del", name, check=False)
        log.info("network of VNI %d removed from this host", vni)

    def _sync_rules(self) -> None:
        both = {**self.expected, **self.ports}
        ports = [nft.LocalPort(b, v) for b, v in both.values()]
        networks = list(self.networks.values())
        script = nft.ruleset(self.owner, networks, ports, self.state.security_groups)
        self.shell.nft(script)
        self._rules_due = False
        self._loaded = {port_id: binding for port_id, (binding, _) in both.items()}

    def _rules_cover_ports(self) -> bool:
        """Whether the loaded rules are those of the plugged ports as they are now."""
        plugged = {port_id: binding for port_id, (binding, _) in self.ports.items()}
        return not self._rules_due and plugged.items() <= self._loaded.items()

    def _sync_routing(self, mine: set[int]) -> None:
        """Per network: its CIDR in table BASE+VNI, reached by its mark or its bridge.

        Only rules of networks this backend has or had (`mine`) are looked at."""
        wanted: set[tuple[str, str, str]] = set()
        for net in self.networks.values():
            table = str(network_mark(net.vni))
            cidr = str(ipaddress.IPv4Network(net.cidr, strict=False))
            self.shell.run(
                "ip", "route", "replace", cidr, "dev", bridge_name(net.vni), "table", table
            )
            wanted |= {("fwmark", hex(network_mark(net.vni)), table)}
            wanted |= {("oif", bridge_name(net.vni), table)}
        tables = {str(network_mark(vni)) for vni in mine}
        have = {rule for rule in self._present_rules() if rule[2] in tables}
        for selector, value, _table in have - wanted:
            self.shell.run("ip", "rule", "del", "pref", str(RULE_PREF), selector, value)
        for selector, value, table in wanted - have:
            self.shell.run(
                "ip", "rule", "add", "pref", str(RULE_PREF), selector, value, "lookup", table
            )

    def _present_rules(self) -> set[tuple[str, str, str]]:
        found: set[tuple[str, str, str]] = set()
        for rule in self.shell.json("ip", "-j", "rule", "show"):
            if rule.get("priority") != RULE_PREF:
                continue
            if "fwmark" in rule:
                found.add(("fwmark", hex(int(rule["fwmark"], 16)), str(rule["table"])))
            elif "oif" in rule:
                found.add(("oif", rule["oif"], str(rule["table"])))
        return found

    def _zones(self) -> list[Zone]:
        zones = []
        for net in self.networks.values():
            if net.gateway is None:
                continue  # nowhere to serve names from: no address on the network
            records: dict[str, list[str]] = {}
            for record in self.state.dns.get(net.uuid, []):
                records.setdefault(record.name.lower().rstrip("."), []).append(record.ip)
            named = {name: tuple(ips) for name, ips in records.items()}
            zones.append(Zone(bridge_name(net.vni), net.gateway, named))
        return zones

    # --- ports -----------------------------------------------------------------------------

    def connect(self, pid: int, ports: list[PortBinding]) -> None:
        with self._lock:
            present = self.shell.link_names()
            for binding in ports:
                net = self.networks.get(binding.network_id)
                if net is None:
                    raise KernelError(f"network {binding.network_id} is not carried here")
                if port_device(binding.port_id) not in present:
                    self._plug(pid, binding, net)
                self.ports[binding.port_id] = (binding, net.vni)
                self.expected.pop(binding.port_id, None)
            if not self._rules_cover_ports():  # loaded before, as expected (see _expect)
                self._sync_rules()
        _name_own_addresses(pid, [binding.ip for binding in ports])

    def _plug(self, pid: int, binding: PortBinding, net: NetworkSpec) -> None:
        """Over netlink from this process: a port is plugged on a container's way to running,
        and the two `ip` runs this took cost ≈20-50 ms of CPU here (what is there already
        is read from /proc, not asked of `ip`)."""
        host_end = port_device(binding.port_id)
        netns = f"/proc/{pid}/ns/net"
        taken = self.shell.inside(pid).link_names()
        name = next(f"eth{i}" for i in range(len(taken) + 1) if f"eth{i}" not in taken)
        mac, address = nft.checked_mac(binding.mac), nft.checked_ip(binding.ip)
        try:
            self.rtnl.add_veth(host_end, net.mtu, name, mac, pid)
        except OSError as exc:
            raise KernelError(f"plugging {binding.port_id}: {exc}") from exc
        try:
            self.rtnl.set_link(host_end, alias=self.alias, master=bridge_name(net.vni), up=True)
            with Rtnl(netns) as inside:
                inside.add_address(name, address, int(binding.prefixlen))
                inside.set_link(name, up=True)
                inside.set_link("lo", up=True)
                # The first network plugged (no ethN before it) gives the default route.
                if binding.gateway is not None and not any(t.startswith("eth") for t in taken):
                    inside.replace_default_route(nft.checked_ip(binding.gateway), name)
            announce(netns, name, mac, address)
        except OSError as exc:
            self.rtnl.delete_link(host_end)
            raise KernelError(f"plugging {binding.port_id}: {exc}") from exc

    def disconnect(self, port_ids: list[str]) -> None:
        with self._lock:
            for port_id in port_ids:
                self._unplug(port_id)
            self._sync_rules()

    def _unplug(self, port_id: str) -> None:
        # Deleting the host end takes the container end with it.
        self.rtnl.delete_link(port_device(port_id))
        self.ports.pop(port_id, None)

    def configure_resolver(self, pid: int, network_ids: list[str]) -> None:
        servers = [self.networks[n].gateway for n in network_ids if n in self.networks]
        upstream = Path("/etc/resolv.conf")
        text = resolv_conf(
            [s for s in servers if s], upstream.read_text() if upstream.exists() else ""
        )
        # The sandbox's resolv.conf is the engine's file bind-mounted into it, shared by
        # every container joining the sandbox; writing through /proc reaches that file.
        Path(f"/proc/{pid}/root/etc/resolv.conf").write_text(text)

    # --- everything ------------------------------------------------------------------------

    def teardown(self) -> None:
        with self._lock:
            self._plumbed = None
            self.dns.update([])
            mine = self._present_vnis() | {n.vni for n in self.networks.values()}
            for name in self._own_links():
                if name.startswith((PORT_PREFIX, VXLAN_PREFIX)):
                    self.shell.run("ip", "link", "del", name, check=False)
            for vni in mine:
                self.shell.run("ip", "link", "del", bridge_name(vni), check=False)
            self.shell.nft(nft.removal(self.owner), check=False)
            self.networks, self.ports, self.expected, self._loaded = {}, {}, {}, {}
            self._sync_routing(mine)
            if any(n.startswith(BRIDGE_PREFIX) for n in self._all_links()):
                return  # another agent's networks still need Docker's chains opened
            for way in ("-i", "-o"):
                rule = [DOCKER_USER, way, f"{BRIDGE_PREFIX}+", "-j", "ACCEPT"]
                while self.shell.ok("iptables", "-D", *rule):
                    pass

    def _all_links(self) -> list[str]:
        return [link["ifname"] for link in self.shell.json("ip", "-j", "link", "show")]

    def close(self) -> None:
        self.dns.close()
        self.rtnl.close()
        self.shell.close()
        self._alive.release()  # what stays in the kernel may now be taken over


def _name_own_addresses(pid: int, addresses: list[str]) -> None:
    """Write the container's hosts file (the sandbox's, shared by the containers joining it,
    like its resolv.conf) through /proc, so that its own name resolves to its addresses."""
    if Path(f"/proc/{pid}/root").samefile("/"):
        return  # a bare process in a namespace, no container: the host's own file stays
    root = Path(f"/proc/{pid}/root/etc")
    try:
        hostname = (root / "hostname").read_text().strip()
        hosts = root / "hosts"
        hosts.write_text(hosts_file(hosts.read_text(), hostname, addresses))
    except OSError as exc:  # a convenience: the ports work without it
        log.warning("naming the addresses of process %d in its hosts file: %s", pid, exc)


def announce(netns: str, device: str, mac: str, ip: str) -> None:
    """A gratuitous ARP from the new port: neighbours that knew this address at another MAC
    (a port detached and attached again, a container made anew) learn the new one at once
    instead of after their cache expires (≈30 s)."""
    sock = in_netns(netns, partial(_raw_socket, device))
    try:
        own = bytes.fromhex(nft.checked_mac(mac).replace(":", ""))
        address = socket.inet_aton(nft.checked_ip(ip))
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + own + address + b"\0" * 6 + address
        sock.send(b"\xff" * 6 + own + b"\x08\x06" + arp)
    finally:
        # Closing a packet socket waits for a network grace period (synchronize_net: 10-20
        # ms here, most of a plug's time); the port works already, so another thread waits.
        threading.Thread(target=sock.close, name="close-arp-socket", daemon=True).start()


def _raw_socket(device: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((device, 0))
    return sock
