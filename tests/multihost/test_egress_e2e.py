"""Leaving a tenant network, and names across hosts: a container reaches places beyond the
tenant networks (the bed's bridge in the root namespace, another host's own address), unless
its network was created internal (a subnet without a gateway, as in Neutron); an internal
network still carries its own traffic across hosts, by address and by name.
"""

from __future__ import annotations

import httpx

from tests.multihost.common import run, wait_settled
from tests.multihost.netkit import address_on, ask, eventually, listener, make_network, serve
from tests.support.multihost import Bed


def test_egress_unless_internal_and_names_across_hosts(
    bed: Bed, api: httpx.Client, neutron: httpx.Client
) -> None:
    open_net = make_network(neutron, "10.66.0.0/24")
    shut_net = make_network(neutron, "10.67.0.0/24", gateway_ip=None)
    a, b, c = bed.hosts
    out = run(api, "egress", host=a.name, nets=[{"network": open_net["id"]}])
    shut = run(api, "internal", host=a.name, nets=[{"network": shut_net["id"]}])
    peer = run(api, "inpeer", command=serve((8080, "in")), host=b.name,
               nets=[{"network": shut_net["id"]}])  # fmt: skip
    for made in (out, shut, peer):
        assert wait_settled(api, made["uuid"])["status"] == "Running"
    outside = [listener(bed.gateway), listener(c.address, c.netns)]  # root ns; host C's own
    try:
        for port, sock in outside:
            where = sock.getsockname()[0]
            eventually(lambda w=where, p=port: ask(a, out["uuid"], w, p), "outside")
            assert ask(a, shut["uuid"], where, port).startswith("FAIL")
        # The internal network works inside: host A to host B, by address and by name.
        eventually(lambda: ask(a, shut["uuid"], "inpeer"), "in")
        assert ask(a, shut["uuid"], address_on(api, peer["uuid"], shut_net["id"])) == "in"
    finally:
        for _, sock in outside:
            sock.close()
