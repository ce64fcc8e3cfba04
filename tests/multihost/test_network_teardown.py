"""What leaves the hosts' kernels when a network or a host goes: a deleted network's VXLAN
device, bridge, veths, nf_tables chains, routing rules and name server are gone from every
host; a host removed from the cluster (Zun's DELETE /v1/services) is dropped from the other
hosts' head-end replication entries.
"""

from __future__ import annotations

import json
import signal
from functools import partial

import httpx

from dockyard.agent.netplane.backend import (
    bridge_name,
    network_mark,
    port_device,
    vxlan_name,
)
from tests.multihost.common import run, wait_settled
from tests.multihost.netkit import fdb_peers, in_host, links, make_network, vni_of
from tests.support.multihost import Bed, Host
from tests.support.wait import wait_for


def _on_every_host(bed: Bed, api: httpx.Client, network_id: str, word: str) -> list[str]:
    made = [
        run(api, f"{word}{h.index}", host=h.name, nets=[{"network": network_id}]) for h in bed.hosts
    ]
    for container in made:
        assert wait_settled(api, container["uuid"])["status"] == "Running"
    return [str(c["uuid"]) for c in made]


def _ports(api: httpx.Client, uuid: str) -> list[str]:
    rows = api.get(f"/v1/containers/{uuid}/network_list").json()["networks"]
    return [str(row["port_id"]) for row in rows]


def _traces(host: Host, vni: int, ports: list[str]) -> list[str]:
    """What of the network is still in the host's kernel."""
    names = [bridge_name(vni), vxlan_name(vni), *(port_device(p) for p in ports)]
    found = [f"link {n}" for n in names if n in links(host)]
    rules = in_host(host, "nft", "list", "ruleset")
    found += [f"nft {n}" for n in names if n in rules]
    table = str(network_mark(vni))
    routing = json.loads(in_host(host, "ip", "-j", "rule", "show"))
    found += [f"rule {r}" for r in routing if str(r.get("table")) == table]
    found += [f"route {r}" for r in in_host(host, "ip", "route", "show", "table", table).split("\n")
              if r]  # fmt: skip
    servers = in_host(host, "ss", "-Hlun", "sport", "= :53")
    found += [f"dns {line}" for line in servers.splitlines() if f"%{bridge_name(vni)}" in line]
    return found


def _carries(host: Host, vni: int, ports: list[str]) -> bool:
    """Bridge, VXLAN device, the port's veth, their rules, routing and name server."""
    return len(_traces(host, vni, ports)) >= 8


def _clean(host: Host, vni: int, ports: list[str]) -> bool:
    return not _traces(host, vni, ports)


def _all_lingering(bed: Bed, network_id: str) -> bool:
    # The bed's current hosts only: the bed lives for the session, and earlier tests leave
    # host rows of identities that are gone (a host registered again under a new tag).
    uuids = [bed.host_uuid(h) for h in bed.hosts]
    rows = bed._query("SELECT uuid, network_ids FROM hosts")
    ids_of = {str(uuid): ids or [] for uuid, ids in rows}
    return all(any(str(i).startswith(f"k:{network_id}@") for i in ids_of[u]) for u in uuids)


def _replicates(host: Host, device: str, peers: set[str]) -> bool:
    return fdb_peers(host, device) == peers


def test_a_deleted_network_leaves_nothing_on_any_host(
    bed: Bed, api: httpx.Client, neutron: httpx.Client
) -> None:
    net = make_network(neutron, "10.64.0.0/24")
    uuids = _on_every_host(bed, api, net["id"], "td")
    vni = vni_of(bed, net["id"])
    ports = [p for uuid in uuids for p in _ports(api, uuid)]
    # While it is used every host carries it (so the check below can fail).
    for host, uuid in zip(bed.hosts, uuids, strict=True):
        wait_for(
            partial(_carries, host, vni, _ports(api, uuid)),
            timeout=30,
            what=f"{host.name} to carry the network and its port",
        )
    assert neutron.delete(f"/networks/{net['id']}").status_code == 409  # still in use
    for uuid in uuids:
        assert api.delete(f"/v1/containers/{uuid}?force=True").status_code == 204
    # With its last port gone a host may keep the network a while (a container made on it
    # again then finds it ready), as long as the control plane lists it as lingering...
    wait_for(
        partial(_all_lingering, bed, net["id"]),
        timeout=30,
        what="every host to hold the network as lingering",
    )
    assert all(bridge_name(vni) in links(h) for h in bed.hosts)
    # ...which a deleted network is not.
    wait_for(
        lambda: neutron.delete(f"/networks/{net['id']}").status_code == 204,
        timeout=30,
        what="the network to be deleted once its containers are gone",
    )
    for host in bed.hosts:
        wait_for(
            partial(_clean, host, vni, ports),
            timeout=30,
            what=f"{host.name} to drop every trace of the network: {_traces(host, vni, ports)}",
        )


def test_a_removed_host_leaves_every_other_hosts_fdb(
    bed: Bed, api: httpx.Client, neutron: httpx.Client
) -> None:
    net = make_network(neutron, "10.65.0.0/24")
    _on_every_host(bed, api, net["id"], "fdb")
    device = vxlan_name(vni_of(bed, net["id"]))
    gone, stay = bed.hosts[2], bed.hosts[:2]
    for host in stay:
        others = {h.address for h in bed.hosts if h is not host}
        wait_for(
            partial(_replicates, host, device, others),
            timeout=30,
            what=f"{host.name} to replicate to every other host",
        )
    old_uuid = bed.host_uuid(gone)
    gone.stop_agent(signal.SIGKILL)  # the machine died; the operator removes it
    before = _revisions(bed, stay)
    removed = api.delete("/v1/services", params={"host": gone.name, "binary": "zun-compute"})
    try:
        assert removed.status_code == 200, removed.text
        # The removal itself wakes the other hosts' watches (no wait for their next resync).
        after = _revisions(bed, stay)
        assert all(after[h] > before[h] for h in before), (before, after)
        for host in stay:
            left = {h.address for h in stay if h is not host}
            wait_for(
                partial(_replicates, host, device, left),
                timeout=15,
                what=f"{host.name} to forget {gone.address} (has {fdb_peers(host, device)})",
            )
    finally:
        _rejoin(bed, gone, old_uuid)


def _revisions(bed: Bed, hosts: list[Host]) -> dict[str, int]:
    """The hosts' watch revisions (moved by whatever must wake their agents)."""
    uuids = {bed.host_uuid(h): h.name for h in hosts}
    rows = bed._query("SELECT uuid, revision FROM hosts")
    return {uuids[str(u)]: int(r) for u, r in rows if str(u) in uuids}


def test_a_network_lingering_on_a_host_replicates_to_no_one(
    bed: Bed, api: httpx.Client, neutron: httpx.Client
) -> None:
    """Its last port here gone, a host may keep a network a while, but no FDB entry: a peer
    removed meanwhile would keep one there (the network's peers are not sent any more)."""
    net = make_network(neutron, "10.69.0.0/24")
    here, there = bed.hosts[0], bed.hosts[1]
    made = [run(api, f"lg{h.index}", host=h.name, nets=[{"network": net["id"]}])
            for h in (here, there)]  # fmt: skip
    for container in made:
        assert wait_settled(api, container["uuid"])["status"] == "Running"
    vni = vni_of(bed, net["id"])
    wait_for(partial(_replicates, here, vxlan_name(vni), {there.address}), timeout=30)
    assert api.delete(f"/v1/containers/{made[0]['uuid']}?force=True").status_code == 204
    wait_for(
        lambda: not fdb_peers(here, vxlan_name(vni)),
        timeout=30,
        what=f"{here.name} to drop its FDB entries for the network it no longer uses",
    )
    assert bridge_name(vni) in links(here)  # still there: lingering


def _rejoin(bed: Bed, host: Host, old_uuid: str) -> None:
    """The machine comes back as a new host (a removal stands); the old one's engine
    containers are nobody's: the operator removes them by their old host label."""
    host.start_agent(bed, state_dir=host.dir / "state-rejoined")
    wait_for(
        lambda: host.name in bed.hosts_up() and bed.host_uuid(host) != old_uuid,
        timeout=30,
        what=f"{host.name} to rejoin as a new host",
    )
    host.remove_containers_of(old_uuid)
