"""The host's nf_tables rules for tenant networks: isolation, security groups, egress NAT.

One `inet` table and one `bridge` table, both named `dockyard`, rebuilt whole and swapped
in one nft transaction each time networks or ports change, so no packet ever sees half a
rule set. Why these hooks:

- Bridged IPv4 traffic passes the `inet` forward hook through br_netfilter (Docker turns
  it on, and so does the backend), where conntrack works; the bridge family has no
  conntrack on these kernels (NF_CONNTRACK_BRIDGE is off). So security groups are enforced
  there, keyed by bridge name and port address, which identify a port even when the CIDRs
  of two networks overlap. Ingress is checked on the destination's host, egress on the
  source's host.
- The `bridge` family sees the bridge ports themselves: it keeps a port to its own MAC
  and address (no spoofing a neighbour) and keeps the gateway, which every host of a
  network owns with one address and one MAC, off the VXLAN port.

Every value written into the rules is parsed first (addresses, ints, MACs), so nothing the
control plane sends can change the rules' structure.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass

from dockyard.agent.netplane.backend import (
    BRIDGE_PREFIX,
    bridge_name,
    gateway_mac,
    network_mark,
    port_device,
    vxlan_name,
)
from dockyard.schemas.netplane import NetworkSpec, PortBinding, SecurityRule

log = logging.getLogger(__name__)

TABLE = "dockyard"
OURS = f'"{BRIDGE_PREFIX}*"'  # every tenant bridge of this host, whichever agent made it
MINE = "@bridges"  # the bridges of this table's agent
PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "6": "tcp", "17": "udp", "1": "icmp"}
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


@dataclass(frozen=True)
class LocalPort:
    """A port plugged in on this host, with the network (VNI) it belongs to."""

    binding: PortBinding
    vni: int


def table_name(owner: str) -> str:
    """One agent's tables: two agents in one namespace (test servers) keep theirs apart."""
    if not owner.isalnum():
        raise ValueError(f"not an owner tag: {owner!r}")
    return f"{TABLE}_{owner}"


def ruleset(
    owner: str,
    networks: list[NetworkSpec],
    ports: list[LocalPort],
    groups: dict[str, list[SecurityRule]],
) -> str:
    """The whole nft script: both tables replaced in one transaction."""
    table = table_name(owner)
    names = ", ".join(f'"{bridge_name(n.vni)}"' for n in networks)
    bridges = ["  set bridges {", "    type ifname;"]
    bridges += [f"    elements = {{ {names} }}"] if names else []
    inet = [*bridges, "  }", *_prerouting(), *_input(), *_forward(networks, ports, groups)]
    inet += _nat(networks)
    return "\n".join(
        [
            *_replace("inet", table),
            *inet,
            "}",
            *_replace("bridge", table),
            *_bridge(networks, ports),
            "}",
        ]
    )


def _replace(family: str, table: str) -> list[str]:
    return [
        f"table {family} {table}",
        f"delete table {family} {table}",
        f"table {family} {table} {{",
    ]


def removal(owner: str) -> str:
    table = table_name(owner)
    return "\n".join(
        [
            f"table inet {table}",
            f"delete table inet {table}",
            f"table bridge {table}",
            f"delete table bridge {table}",
        ]
    )


def _chain(name: str, hook: str | None, rules: list[str], kind: str = "filter") -> list[str]:
    head = [f"  chain {name} {{"]
    if hook is not None:
        priority = {"nat": "srcnat", "filter": "filter"}[kind]
        head.append(f"    type {kind} hook {hook} priority {priority}; policy accept;")
    return [*head, *(f"    {rule}" for rule in rules), "  }"]


def _prerouting() -> list[str]:
    # Replies to a network's masqueraded flows carry its mark again, so policy routing can
    # send them to the right bridge when two networks here share a CIDR.
    rule = "ct direction reply ct mark and 0xff000000 == 0x0d000000 meta mark set ct mark"
    return [
        "  chain prerouting {",
        "    type filter hook prerouting priority mangle; policy accept;",
        f"    {rule}",
        "  }",
    ]


def _input() -> list[str]:
    """Containers may ask the host's name server on their gateway address, nothing else."""
    return _chain(
        "input",
        "input",
        [
            f"iifname {MINE} ct state established,related accept",
            f"iifname {MINE} meta l4proto {{ tcp, udp }} th dport 53 accept",
            f"iifname {MINE} drop",
        ],
    )


def _forward(
    networks: list[NetworkSpec], ports: list[LocalPort], groups: dict[str, list[SecurityRule]]
) -> list[str]:
    rules = [
        f"iifname != {MINE} oifname != {MINE} accept",
        "meta nfproto ipv6 drop",
        # Nothing enters a network from elsewhere on the host but replies.
        f"iifname != {MINE} ct state established,related accept",
        f"iifname != {MINE} drop",
    ]
    for net in networks:
        rules += _isolation(net)
    # Every egress check first (they return when allowed), then the ingress ones: a flow
    # between two ports of this host must pass the sender's egress and the receiver's ingress.
    rules += [_port_jump(port, "out") for port in ports]
    rules += [_port_jump(port, "in") for port in ports]
    chains = [line for port in ports for line in _port_chains(port, groups)]
    return [*_chain("forward", "forward", rules), *chains]


def _isolation(net: NetworkSpec) -> list[str]:
    """A network's traffic stays on its bridge, except new flows out to the world (if not
    internal), which are marked so that NAT and the replies' routing know the network."""
    bridge = f'"{bridge_name(net.vni)}"'
    rules = [f"iifname {bridge} oifname {OURS} oifname != {bridge} drop"]
    if net.internal:
        return [*rules, f"iifname {bridge} oifname != {bridge} drop"]
    mark = f"0x{network_mark(net.vni):08x}"
    return [*rules, f"iifname {bridge} oifname != {OURS} ct state new ct mark set {mark}"]


def _port_jump(port: LocalPort, way: str) -> str:
    bridge = f'"{bridge_name(port.vni)}"'
    address = _ip(port.binding.ip)
    device = port_device(port.binding.port_id)
    if way == "out":
        return f"iifname {bridge} ip saddr {address} jump out_{device}"
    return f"oifname {bridge} ip daddr {address} jump in_{device}"


def _port_chains(port: LocalPort, groups: dict[str, list[SecurityRule]]) -> list[str]:
    """Per port, Neutron's semantics: what no rule of its groups allows is dropped."""
    rules = [rule for gid in port.binding.security_groups for rule in groups.get(gid, [])]
    device = port_device(port.binding.port_id)
    chains: list[str] = []
    # An allowed egress returns (the receiver's ingress may still apply); ingress accepts.
    for direction, name, verdict in (("ingress", "in", "accept"), ("egress", "out", "return")):
        matches = [_safe_match(rule) for rule in rules if rule.direction == direction]
        allowed = [f"{match} {verdict}" for match in matches if match is not None]
        body = [f"ct state established,related {verdict}", *allowed, "drop"]
        chains += _chain(f"{name}_{device}", None, body)
    return chains


def _safe_match(rule: SecurityRule) -> str | None:
    """A rule whose values do not parse allows nothing (logged), and breaks no other rule."""
    try:
        return _match(rule)
    except ValueError as exc:
        log.warning("security-group rule ignored (%s): %s", exc, rule)
        return None


def _match(rule: SecurityRule) -> str | None:
    """The rule as an nft match (without verdict); None when it can match nothing here."""
    if rule.ethertype != "IPv4":
        return None
    field = "saddr" if rule.direction == "ingress" else "daddr"
    parts: list[str] = []
    if rule.remote_ip_prefix:
        parts.append(f"ip {field} {ipaddress.IPv4Network(rule.remote_ip_prefix, strict=False)}")
    if rule.remote_addresses is not None:
        if not rule.remote_addresses:
            return None  # a remote group without members
        members = ", ".join(_ip(address) for address in rule.remote_addresses)
        parts.append(f"ip {field} {{ {members} }}")
    parts += _protocol(rule)
    return " ".join(parts) if parts else "meta nfproto ipv4"


def _protocol(rule: SecurityRule) -> list[str]:
    if rule.protocol in (None, "any", "0"):
        return []
    protocol = PROTOCOLS.get(str(rule.protocol).lower())
    if protocol is None:
        return [f"meta l4proto {int(str(rule.protocol))}"]
    parts = [f"meta l4proto {protocol}"]
    if protocol in ("tcp", "udp") and rule.port_range_min is not None:
        low = int(rule.port_range_min)
        high = int(rule.port_range_max if rule.port_range_max is not None else low)
        parts.append(f"th dport {low}-{high}" if high != low else f"th dport {low}")
    return parts


def _nat(networks: list[NetworkSpec]) -> list[str]:
    rules = [
        f"ct mark 0x{network_mark(n.vni):08x} oifname != {OURS} masquerade"
        for n in networks
        if not n.internal
    ]
    return _chain("postrouting", "postrouting", rules, kind="nat")


def _bridge(networks: list[NetworkSpec], ports: list[LocalPort]) -> list[str]:
    forward: list[str] = []
    output: list[str] = []
    for port in ports:
        forward += _anti_spoof(port.binding)
    for net in networks:
        vxlan = f'"{vxlan_name(net.vni)}"'
        mac = gateway_mac(net.vni)
        # The gateway exists on every host with one MAC: its frames never cross hosts.
        output.append(f"oifname {vxlan} ether saddr {mac} drop")
        forward.append(f"oifname {vxlan} ether saddr {mac} drop")
        forward.append(f"iifname {vxlan} ether saddr {mac} drop")
        if net.gateway is not None:
            forward.append(f"oifname {vxlan} arp daddr ip {_ip(net.gateway)} drop")
    return [*_chain("forward", "forward", forward), *_chain("output", "output", output)]


def _anti_spoof(binding: PortBinding) -> list[str]:
    """A container sends with its own MAC and address only."""
    device = f'"{port_device(binding.port_id)}"'
    mac = checked_mac(binding.mac)
    address = _ip(binding.ip)
    return [
        f"iifname {device} ether saddr != {mac} drop",
        f"iifname {device} ether type ip ip saddr != {address} drop",
        f"iifname {device} ether type arp arp saddr ip != {address} drop",
    ]


def _ip(text: str) -> str:
    return str(ipaddress.IPv4Address(text))


def checked_ip(text: str) -> str:
    """The address, parsed (ValueError otherwise): safe to write into a script."""
    return _ip(text)


def checked_mac(text: str) -> str:
    mac = text.lower()
    if not _MAC.match(mac):
        raise ValueError(f"not a MAC address: {text!r}")
    return mac
