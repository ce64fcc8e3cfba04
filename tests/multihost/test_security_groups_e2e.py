"""Security groups made and changed through the APIs, enforced by the agents' nf_tables rules
across hosts: a port no group opens is unreachable; `exposed_ports` opens exactly those ports
(as Zun does); a rule created and deleted through the Neutron API opens and closes a port;
add_security_group / remove_security_group on a container change who reaches it; another
network (same project, same CIDR) reaches none of it, opened or not: networks do not route to
each other (there are no routers).
"""

from __future__ import annotations

import httpx

from tests.multihost.common import run, wait_settled
from tests.multihost.netkit import address_on, ask, eventually, make_network, serve
from tests.support.multihost import Bed

CIDR = "10.63.0.0/24"
V114 = {"OpenStack-API-Version": "container 1.14"}


def _group(neutron: httpx.Client, name: str) -> str:
    made = neutron.post("/security-groups", json={"security_group": {"name": name}})
    assert made.status_code == 201, made.text
    return str(made.json()["security_group"]["id"])


def _tcp_rule(neutron: httpx.Client, group: str, port: int) -> str:
    body = {"security_group_rule": {
        "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
        "protocol": "tcp", "port_range_min": port, "port_range_max": port,
    }}  # fmt: skip
    made = neutron.post("/security-group-rules", json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["security_group_rule"]["id"])


def test_security_groups_through_the_apis(
    bed: Bed, api: httpx.Client, neutron: httpx.Client
) -> None:
    net, other = make_network(neutron, CIDR), make_network(neutron, CIDR)
    # Groups with Neutron's egress rules only: nothing comes in.
    closed, clients, extra = (_group(neutron, n) for n in ("closed", "clients", "open8081"))
    _tcp_rule(neutron, extra, 8081)
    a, b = bed.hosts[0], bed.hosts[1]
    nets = [{"network": net["id"]}]
    both = serve((8080, "w8080"), (8081, "w8081"))
    web = run(api, "sgweb", command=both, host=b.name, nets=nets, security_groups=[closed])
    # In the project's default group too, beside Zun's group of its exposed ports.
    exposed = run(
        api, "sgexposed", command=both, host=b.name, nets=nets, exposed_ports={"8080/tcp": {}}
    )
    client = run(api, "sgclient", host=a.name, nets=nets, security_groups=[clients])
    member = run(api, "sgmember", host=a.name, nets=nets)  # in the default group
    stranger = run(api, "sgstranger", host=a.name, nets=[{"network": other["id"]}])
    for made in (web, exposed, client, member, stranger):
        assert wait_settled(api, made["uuid"])["status"] == "Running"
    web_ip = address_on(api, web["uuid"], net["id"])
    exposed_ip = address_on(api, exposed["uuid"], net["id"])

    def web_says(port: int) -> str:
        return ask(a, client["uuid"], web_ip, port)[:5]

    # exposed_ports opens 8080 (from anywhere on the network), and only 8080...
    eventually(lambda: ask(a, client["uuid"], exposed_ip), "w8080")
    assert ask(a, client["uuid"], exposed_ip, 8081).startswith("FAIL")
    # ...but the default group lets its members reach each other on every port.
    assert ask(a, member["uuid"], exposed_ip, 8081) == "w8081"
    # The same network and hosts carry the closed container: only its groups keep it shut.
    assert web_says(8080) == web_says(8081) == "FAIL "
    assert ask(a, member["uuid"], web_ip, 8081).startswith("FAIL")
    # Another network with the same CIDR reaches nothing, even the exposed port.
    assert ask(a, stranger["uuid"], exposed_ip).startswith("FAIL")

    # A rule created through the Neutron API opens its port, on the running container.
    rule = _tcp_rule(neutron, closed, 8080)
    eventually(lambda: web_says(8080), "w8080")
    assert web_says(8081) == "FAIL "
    # Deleting it closes the port again for new connections.
    assert neutron.delete(f"/security-group-rules/{rule}").status_code == 204
    eventually(lambda: web_says(8080), "FAIL ")

    # Adding a group to the container opens what its rules open; removing it closes it.
    # Zun serves both up to 1.14.
    added = api.post(
        f"/v1/containers/{web['uuid']}/add_security_group", params={"name": extra}, headers=V114
    )
    assert added.status_code == 202, added.text
    eventually(lambda: web_says(8081), "w8081")
    shown = api.get(f"/v1/containers/{web['uuid']}").json()["security_groups"]
    assert sorted(shown) == ["closed", "open8081"]
    removed = api.post(
        f"/v1/containers/{web['uuid']}/remove_security_group", params={"name": extra}, headers=V114
    )
    assert removed.status_code == 202, removed.text
    eventually(lambda: web_says(8081), "FAIL ")
    assert web_says(8080) == "FAIL "
