"""What one host must carry of tenant networks (schemas/netplane.HostNetworks), computed from
the database, and its revision: the host's watch revision at which it last changed.

Recomputed when the host's agent reads its assignments (its watch wakes on every change that
can move it), unless nothing that can move it came since the last computation (the host's
network_touched: services/hosts.py keeps that computation); compared by digest, so an
unchanged result costs no write. When a host starts
or stops carrying a network, or its own ports change, the other hosts of those networks are
woken: their peers and name records moved with it.
"""

from __future__ import annotations

import hashlib
import time
from typing import NamedTuple
from urllib.parse import urlsplit

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.networks_tables import NetworkRow, PortRow, SubnetRow
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.netplane import NetplaneRepository
from dockyard.db.tables import HostRow
from dockyard.errors import HostNotFound
from dockyard.schemas.netplane import (
    LINGER_SECONDS,
    DnsRecord,
    HostNetworks,
    NetworkSpec,
    SecurityRule,
)
from dockyard.services import ipam
from dockyard.services.netevents import touch_hosts

# A recorded id of a network that left the host lately: "k:<uuid>@<unix time it left>".
LINGERING = "k:"


def recorded_networks(host: HostRow) -> list[str]:
    """The networks the host carried when its networks were last recorded (not lingering)."""
    return [i[2:] for i in host.network_ids or [] if i.startswith("n:")]


def tunnel_ip_of(host: HostRow) -> str | None:
    """The host's registered underlay address, else the host part of its agent URL."""
    return host.tunnel_ip or urlsplit(host.agent_url).hostname


class Computed(NamedTuple):
    """A computation of the host's networks, and until when it holds."""

    networks: HostNetworks  # with the revision at which they last changed
    # The host's watch revision read before the rest: every change committed up to it is
    # in `networks`; one that may move them after it moves the host's network_touched past.
    checked: int
    expires: float  # time.time() when a lingering network's time is up: compute again

    def holds(self, network_revision: int, network_touched: int, now: float) -> bool:
        """Nothing moved them since (nor did another replica record others)."""
        return (
            network_touched <= self.checked
            and network_revision == self.networks.revision
            and now < self.expires
        )


async def sync_host_networks(
    sessions: Sessions, host_uuid: str, known: Computed | None = None
) -> Computed:
    """The host's networks now, with the revision at which they last changed (moved here
    when they differ from the last computed ones); `known` (the last computation) if it
    still holds: about half the revisions that wake a host move nothing of its networks
    (a status, a delete asked for, a sandbox retired), and computing them again to find
    that took 7 queries where the host's row is one."""
    async with sessions() as session:
        host = await HostRepository(session).get(host_uuid)  # first: `checked` is its revision
        if known is not None and known.holds(
            host.network_revision, host.network_touched, time.time()
        ):
            return known
        carried, local, kept = await _compute(session, host)
        expires = min((_lingers_until(k) for k in kept), default=float("inf"))
        digest = _digest(carried)
        # A host that never carried anything has nothing to hear about yet.
        never = host.network_digest is None and not carried.networks
        if digest == host.network_digest or never:
            shown = carried.model_copy(update={"revision": host.network_revision})
            return Computed(shown, host.revision, expires)
        before = set(host.network_ids or [])
    # What only this host sees: the networks it carries and its own ports. When they move,
    # the other hosts of those networks are woken (their peers or names moved); a change that
    # came from elsewhere woke this host and wakes no one further.
    mine = {f"n:{n.uuid}" for n in carried.networks} | {f"p:{p}" for p in local} | set(kept)
    async with transaction(sessions) as session:
        if await NetplaneRepository(session).digest(host_uuid) == digest:
            # Another replica recorded this result first.
            found = await HostRepository(session).get(host_uuid)
            shown = carried.model_copy(update={"revision": found.network_revision})
            return Computed(shown, host.revision, expires)
        woken: set[str] = set()
        if mine != before:
            # Read again after the computation: a peer that joined since must hear of this
            # host (it may have computed before this host's port existed). Read before the
            # row locks and still enough: a port commits before its host computes, so a peer
            # whose port commits after this read computes after it and sees this host's ports.
            networks = {i[2:] for i in mine | before if i.startswith("n:")}
            woken = await _hosts_carrying(session, networks) - {host_uuid}
        # This host's row with the others', all in uuid order (its own first, then the others,
        # deadlocked two hosts' records on PostgreSQL: A then B against B then A).
        # Its own watch wakes to send them; the peers' networks may have moved with them.
        touched = await touch_hosts(session, woken | {host_uuid}, recorded=host_uuid)
        revision = touched.get(host_uuid)
        if revision is None:
            raise HostNotFound(ident=host_uuid)
        await NetplaneRepository(session).record(host_uuid, revision, digest, sorted(mine))
    return Computed(carried.model_copy(update={"revision": revision}), host.revision, expires)


def _lingers_until(kept: str) -> float:
    """When a recorded lingering network ("k:<uuid>@<left>") stops lingering."""
    return int(kept.rpartition("@")[2]) + LINGER_SECONDS


def _digest(carried: HostNetworks) -> str:
    return hashlib.sha256(carried.model_dump_json().encode()).hexdigest()


async def _hosts_carrying(session: Session, networks: set[str]) -> set[str]:
    if not networks:
        return set()
    rows = await NetplaneRepository(session).port_hosts(networks)
    return {host for _, host in rows if host}


async def _compute(session: Session, host: HostRow) -> tuple[HostNetworks, list[str], list[str]]:
    """(what the host carries, its own port ids, the ids recording its lingering networks)."""
    repo = NetplaneRepository(session)
    members = await repo.port_hosts(repo.local_networks(host.uuid))
    local = [p for p, h in members if h == host.uuid]
    network_ids = sorted({p.network_uuid for p in local})
    tunnels = await _tunnels(session, {h for _, h in members if h and h != host.uuid})
    found = await repo.networks(network_ids)
    specs = []
    for network_id in network_ids:
        if network_id not in found:
            continue
        peers = sorted({tunnels[h] for p, h in members
                        if p.network_uuid == network_id and h in tunnels})  # fmt: skip
        specs.append(_spec(*found[network_id], peers))
    groups = sorted({g for p in local for g in p.security_groups})
    left = _left(host, set(network_ids), time.time())
    lingering = sorted(await repo.existing_networks(left))
    carried = HostNetworks(
        revision=0, tunnel_ip=tunnel_ip_of(host), networks=specs,
        security_groups=await _rules(session, groups),
        dns=await _dns(session, [p for p, _ in members]), lingering=lingering,
    )  # fmt: skip
    kept = [f"{LINGERING}{uuid}@{left[uuid]}" for uuid in lingering]
    return carried, sorted(p.uuid for p in local), kept


def _left(host: HostRow, carried: set[str], now: float) -> dict[str, int]:
    """Networks that left the host within LINGER_SECONDS (uuid: when), read from the ids
    recorded last: a network carried then and not now has just left."""
    found: dict[str, int] = {}
    for item in host.network_ids or []:
        if item.startswith("n:") and item[2:] not in carried:
            found[item[2:]] = int(now)
        elif item.startswith(LINGERING):
            uuid, _, since = item[len(LINGERING) :].partition("@")
            if uuid not in carried and since.isdigit() and now - int(since) < LINGER_SECONDS:
                found[uuid] = int(since)
    return found


async def _tunnels(session: Session, hosts: set[str]) -> dict[str, str]:
    if not hosts:  # the host is alone on its networks
        return {}
    rows = await NetplaneRepository(session).hosts(hosts)
    return {h.uuid: ip for h in rows if (ip := tunnel_ip_of(h))}


def _spec(network: NetworkRow, subnet: SubnetRow, peers: list[str]) -> NetworkSpec:
    internal = subnet.gateway_ip is None
    gateway = ipam.service_address(subnet.cidr) if internal else subnet.gateway_ip
    return NetworkSpec(
        uuid=network.uuid, project_id=network.project_id, vni=network.vni, cidr=subnet.cidr,
        gateway=gateway, mtu=network.mtu, internal=internal, peers=peers,
    )  # fmt: skip


async def _rules(session: Session, groups: list[str]) -> dict[str, list[SecurityRule]]:
    """Each group's rules; a rule naming a remote group gets that group's member addresses."""
    repo = NetplaneRepository(session)
    rules = await repo.rules(groups)
    remote = {r.remote_group_uuid for r in rules if r.remote_group_uuid}
    members: dict[str, set[str]] = {g: set() for g in remote}
    if remote:
        for port in await repo.ports_of_group_projects(remote):
            for group in set(port.security_groups) & remote:
                members[group].add(port.ip_address)
    found: dict[str, list[SecurityRule]] = {g: [] for g in groups}
    for rule in rules:
        if rule.ethertype != "IPv4":
            continue  # the data plane is IPv4
        found[rule.security_group_uuid].append(SecurityRule(
            direction=rule.direction, ethertype="IPv4", protocol=rule.protocol,
            port_range_min=rule.port_range_min, port_range_max=rule.port_range_max,
            remote_ip_prefix=rule.remote_ip_prefix,
            remote_addresses=sorted(members[rule.remote_group_uuid])
            if rule.remote_group_uuid else None,
        ))  # fmt: skip
    return found


async def _dns(session: Session, ports: list[PortRow]) -> dict[str, list[DnsRecord]]:
    """Per network, the names of the containers (and capsules) with an address on it."""
    containers = {p.container_uuid for p in ports if p.container_uuid}
    capsules = {p.capsule_uuid for p in ports if p.capsule_uuid}
    names = await NetplaneRepository(session).names(containers, capsules)
    found: dict[str, list[DnsRecord]] = {}
    for port in sorted(ports, key=lambda p: (p.network_uuid, p.ip_address)):
        name = names.get(str(port.container_uuid or port.capsule_uuid))
        if name:
            found.setdefault(port.network_uuid, []).append(DnsRecord(name=name, ip=port.ip_address))
    return found
