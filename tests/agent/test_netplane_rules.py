"""Pure parts of the network data plane: DNS answers, nft rules from security groups."""

from __future__ import annotations

import socket
import struct

import pytest

from dockyard.agent.netplane import nft
from dockyard.agent.netplane.dns import answer, hosts_file, resolv_conf
from dockyard.schemas.netplane import NetworkSpec, PortBinding, SecurityRule


def query(name: str, qtype: int = 1) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return (
        struct.pack("!HHHHHH", 42, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack("!HH", qtype, 1)
    )


def test_dns_answers_its_names_and_refuses_the_rest() -> None:
    records = {"web": ("10.0.0.3", "10.0.0.4")}
    reply = answer(query("WEB"), records)
    assert reply is not None
    ident, flags, _, ancount = struct.unpack("!HHHH", reply[:8])
    assert (ident, flags & 0xF, ancount) == (42, 0, 2)
    assert socket.inet_ntoa(reply[-4:]) == "10.0.0.4"
    no_data = answer(query("web", qtype=28), records)  # AAAA of a known name: NODATA
    assert no_data is not None
    assert struct.unpack("!HH", no_data[2:4] + no_data[6:8]) == (0x8500, 0)
    refused = answer(query("other"), records)
    assert refused is not None
    assert refused[3] & 0xF == 5
    assert answer(b"\0" * 5, records) is None  # too short to be a query


def test_resolv_conf_keeps_non_local_upstreams_after_the_networks() -> None:
    text = resolv_conf(["10.0.0.1"], "nameserver 127.0.0.53\nnameserver 192.0.2.1\n")
    assert text.splitlines()[:2] == ["nameserver 10.0.0.1", "nameserver 192.0.2.1"]


def binding(**fields: object) -> PortBinding:
    base: dict[str, object] = {
        "port_id": "11111111-2222-3333-4444-555555555555", "network_id": "n", "ip": "10.0.0.5",
        "prefixlen": 24, "mac": "fa:16:3e:00:00:05", "security_groups": ["g"],
    }  # fmt: skip
    return PortBinding.model_validate({**base, **fields})


def test_rules_follow_the_groups_and_parse_every_value() -> None:
    net = NetworkSpec(uuid="n", project_id="p", vni=7, cidr="10.0.0.0/24", gateway="10.0.0.1")
    rules = [
        SecurityRule(direction="ingress", protocol="tcp", port_range_min=80, port_range_max=90),
        SecurityRule(direction="ingress", remote_addresses=["10.0.0.9"]),
        SecurityRule(direction="ingress", remote_addresses=[]),  # an empty group: no rule
        SecurityRule(direction="egress"),
        SecurityRule(direction="ingress", protocol="tcp; drop"),  # unparsable: allows nothing
    ]
    script = nft.ruleset("t1", [net], [nft.LocalPort(binding(), 7)], {"g": rules})
    chain = script.split("chain in_dyp111111112222")[1].split("\n  }")[0]
    assert "meta l4proto tcp th dport 80-90 accept" in chain
    assert "ip saddr { 10.0.0.9 } accept" in chain
    assert chain.count("accept") == 3  # established, tcp 80-90, from 10.0.0.9
    assert "ct mark 0x0d000007" in script
    assert "masquerade" in script
    internal = net.model_copy(update={"internal": True})
    assert "masquerade" not in nft.ruleset("t1", [internal], [], {})
    with pytest.raises(ValueError, match="5; drop"):
        nft.ruleset("t1", [net], [nft.LocalPort(binding(ip="10.0.0.5; drop"), 7)], {})
    with pytest.raises(ValueError, match="not a MAC"):
        nft.ruleset("t1", [net], [nft.LocalPort(binding(mac="fa:16:3e:00:00:05 drop"), 7)], {})


def test_hosts_file_names_the_container_s_addresses_and_a_replug_replaces_them() -> None:
    engine = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
    first = hosts_file(engine, "web", ["10.2.0.5"])
    assert first.splitlines()[:2] == engine.splitlines()
    assert first.splitlines()[2].split()[:2] == ["10.2.0.5", "web"]
    again = hosts_file(first, "web", ["10.3.0.7", "10.2.0.9"])
    assert [line.split()[0] for line in again.splitlines()] == [
        "127.0.0.1", "::1", "10.3.0.7", "10.2.0.9",
    ]  # fmt: skip
    assert hosts_file(again, "web", []) == engine
