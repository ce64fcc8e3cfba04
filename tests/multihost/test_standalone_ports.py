"""A standalone container (no sandbox) on a tenant network has its network from its first
instruction on: its command, which reads its addresses and hosts file at once, sees its port
(the agent plugs it while the command is held, runtime/hold.py), after a restart too; and the
command runs as given (its own argv as PID 1)."""

from __future__ import annotations

import httpx

from tests.multihost.common import engine_ids, run, wait_settled
from tests.multihost.netkit import address_on, make_network
from tests.support.multihost import Bed, Host
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_for

# What the command sees first thing, then it sleeps.
LOOK = "ip -4 -o addr show; grep dockyard /etc/hosts; tr '\\0' ' ' </proc/1/cmdline; echo; "
COMMAND = ["sh", "-c", LOOK + SLEEP_FOREVER[2]]


def _logs(host: Host, uuid: str) -> str:
    made = engine_ids(host, uuid)
    if not made:
        return ""  # not made yet
    client = host.engine_client()
    try:
        return str(client.containers.get(made[-1]).logs().decode())
    finally:
        client.close()


def _seen_once(host: Host, uuid: str, count: int = 1) -> str:
    """The command's output, once it has looked `count` times (once per start)."""
    found: dict[str, str] = {}

    def looked() -> bool:
        found["logs"] = _logs(host, uuid)
        return found["logs"].count("sh -c ") >= count

    wait_for(looked, timeout=30, what=f"{uuid} to look {count} time(s)")
    return found["logs"]


def test_a_standalone_command_sees_its_port_at_once(
    bed: Bed, api: httpx.Client, neutron: httpx.Client
) -> None:
    net = make_network(neutron, "10.68.0.0/24")
    host = bed.hosts[1]
    made = run(api, "alone", command=COMMAND, host=host.name, nets=[{"network": net["id"]}],
               sandbox_mode="standalone")  # fmt: skip
    assert wait_settled(api, made["uuid"])["status"] == "Running"
    address = address_on(api, made["uuid"], net["id"])
    seen = _seen_once(host, made["uuid"])
    assert f"inet {address}/24" in seen, seen
    assert f"{address}\t" in seen, seen  # its hosts file names it already
    assert "sh -c ip -4 -o addr show" in seen, seen  # PID 1 is its own command

    restarted = api.post(f"/v1/containers/{made['uuid']}/reboot")
    assert restarted.status_code == 202, restarted.text
    seen = _seen_once(host, made["uuid"], count=2)
    assert seen.count(f"inet {address}/24") == 2, seen  # a new namespace, held again


def test_a_standalone_command_restarted_by_the_engine_sees_its_port_at_once(
    bed: Bed, api: httpx.Client, neutron: httpx.Client
) -> None:
    """The engine restarts it (its restart policy), not Dockyard: the agent sees the new
    process, plugs it and lets its command run."""
    net = make_network(neutron, "10.70.0.0/24")
    host = bed.hosts[2]
    briefly = ["sh", "-c", LOOK + "sleep 2; exit 3"]
    made = run(api, "bounce", command=briefly, host=host.name, nets=[{"network": net["id"]}],
               sandbox_mode="standalone", restart_policy={"Name": "always"})  # fmt: skip
    address = address_on(api, made["uuid"], net["id"])
    seen = _seen_once(host, made["uuid"], count=3)
    assert seen.count(f"inet {address}/24") >= 3, seen
