"""What a host needs to carry tenant networks: the contract between control plane and agent.

The control plane decides everything here (VNIs, addresses, MACs, which hosts carry a
network); an agent only makes its kernel match. Addresses are never chosen on a host.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NetworkSpec(BaseModel):
    """One tenant network as a host that carries it must build it."""

    uuid: str
    project_id: str
    vni: int = Field(ge=1, le=16_777_215)
    cidr: str  # the network's IPv4 subnet, e.g. "10.2.0.0/24"
    gateway: str | None = None  # the address the host's bridge takes, if egress is allowed
    mtu: int = 1450  # 1500 minus VXLAN's 50 bytes
    internal: bool = False  # True: no egress beyond the network
    # Underlay (tunnel) addresses of the *other* hosts that carry this network: the agent
    # keeps one all-zero FDB entry per peer (head-end replication) and no more.
    peers: list[str] = Field(default_factory=list)


class SecurityRule(BaseModel):
    """One Neutron security-group rule, as the data plane enforces it."""

    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str | None = None  # "tcp", "udp", "icmp" or None for any
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    # Resolved by the control plane into the group's member addresses (no lookup on a host).
    remote_addresses: list[str] | None = None


class PortBinding(BaseModel):
    """One attachment of a container (its sandbox, where it has one) to one network."""

    port_id: str
    network_id: str
    ip: str  # allocated by the control plane
    prefixlen: int
    mac: str  # allocated by the control plane, locally administered
    gateway: str | None = None
    security_groups: list[str] = Field(default_factory=list)  # group ids


class DnsRecord(BaseModel):
    """A name a container on a network can be reached by, from any host."""

    name: str
    ip: str


# How long a network whose last port left a host may stay plumbed there: creating and
# deleting one container at a time would otherwise rebuild its devices each time.
LINGER_SECONDS = 120.0


class HostNetworks(BaseModel):
    """Everything one host must carry, sent as a whole (small) with a revision."""

    revision: int
    tunnel_ip: str | None = None  # this host's own underlay address, as registered
    networks: list[NetworkSpec] = Field(default_factory=list)
    security_groups: dict[str, list[SecurityRule]] = Field(default_factory=dict)
    dns: dict[str, list[DnsRecord]] = Field(default_factory=dict)  # network uuid -> records
    # Networks that left this host lately (no port here any more) and still exist: the agent
    # may keep them plumbed for a while (LINGER_SECONDS); any other is removed at once, so a
    # deleted network leaves no device behind.
    lingering: list[str] = Field(default_factory=list)
