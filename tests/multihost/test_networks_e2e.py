"""Tenant networks end to end on the many-host bed: networks made through the Neutron API,
containers run with `nets` on chosen hosts through Zun's API, the agents' kernel backend
carrying them: by address and by name across hosts, a same-CIDR network isolated,
detach/attach changing reachability, egress out of the hosts.
"""

from __future__ import annotations

import httpx

from tests.multihost.common import run, wait_settled
from tests.multihost.netkit import address_on, ask, eventually, listener, make_network, serve
from tests.support.multihost import Bed


def test_tenant_networks_across_hosts(bed: Bed, api: httpx.Client, neutron: httpx.Client) -> None:
    blue, red = make_network(neutron, "10.62.0.0/24"), make_network(neutron, "10.62.0.0/24")
    a, b = bed.hosts[0], bed.hosts[1]
    web = run(
        api, "web", command=serve((8080, "blue")), host=b.name, nets=[{"network": blue["id"]}]
    )
    client = run(api, "client", host=a.name, nets=[{"network": blue["id"]}])
    # Another network with the same CIDR, its own "web" at whatever address it gets.
    run(api, "redweb", command=serve((8080, "red")), host=b.name, nets=[{"network": red["id"]}])
    stranger = run(api, "stranger", host=a.name, nets=[{"network": red["id"]}])
    for made in (web, client, stranger):
        assert wait_settled(api, made["uuid"])["status"] == "Running"
    web_ip = address_on(api, web["uuid"], blue["id"])

    eventually(lambda: ask(a, client["uuid"], web_ip), "blue")  # by address, host A to B
    eventually(lambda: ask(a, client["uuid"], "web"), "blue")  # by name
    assert ask(a, stranger["uuid"], "web") != "blue"  # red has its own web
    assert ask(a, stranger["uuid"], web_ip) != "blue"  # the same address on red is not blue

    detached = api.post(f"/v1/containers/{web['uuid']}/network_detach?network={blue['id']}")
    assert detached.status_code == 202, detached.text
    eventually(lambda: ask(a, client["uuid"], web_ip)[:4], "FAIL")
    attached = api.post(f"/v1/containers/{web['uuid']}/network_attach?network={blue['id']}")
    assert attached.status_code == 200, attached.text
    eventually(lambda: ask(a, client["uuid"], "web"), "blue")

    port, outside = listener(bed.gateway)
    try:
        assert ask(a, client["uuid"], bed.gateway, port) == "outside"  # egress, masqueraded
    finally:
        outside.close()
