"""A starting kernel backend removes what stopped agents left in its namespace, nothing else.

Real namespaces, real nft tables and links (kernelbed); the "agents" are backends of other
tags in this process, stopped by close() as their process's end would stop them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from dockyard.agent.netplane import owners, vxlan
from dockyard.agent.netplane.backend import bridge_name, network_mark, port_device, vxlan_name
from dockyard.agent.netplane.sweep import stopped_owner
from dockyard.agent.netplane.vxlan import KernelBackend
from dockyard.schemas.netplane import HostNetworks, NetworkSpec, PortBinding, SecurityRule
from tests.support import netbed
from tests.support.kernelbed import KernelBed


@pytest.fixture(scope="module")
def kbed() -> Iterator[KernelBed]:
    bed = KernelBed(1).start()
    yield bed
    bed.close()
    assert not bed.leftovers(), bed.leftovers()


def carry(bed: KernelBed, vni: int) -> HostNetworks:
    net = NetworkSpec(
        uuid=f"net-{vni}", project_id="p1", vni=vni, cidr=f"10.78.{vni % 256}.0/24",
        gateway=f"10.78.{vni % 256}.1", peers=[],
    )  # fmt: skip
    rules = [SecurityRule(direction="ingress"), SecurityRule(direction="egress")]
    return HostNetworks(
        revision=1, tunnel_ip=bed.addresses[0], networks=[net], security_groups={"g": rules}
    )


def nft(bed: KernelBed, *argv: str) -> str:
    return netbed.run("ip", "netns", "exec", bed.netns[0], "nft", *argv).stdout


def tables(bed: KernelBed) -> str:
    return nft(bed, "list", "tables")


def rules(bed: KernelBed) -> str:
    return netbed.run("ip", "-n", bed.netns[0], "rule", "show").stdout


def routes(bed: KernelBed, vni: int) -> str:
    table = str(network_mark(vni))
    return netbed.run("ip", "-n", bed.netns[0], "route", "show", "table", table).stdout


def test_a_starting_backend_removes_stopped_agents_objects_only(kbed: KernelBed) -> None:
    netns = str(netbed.NETNS_DIR / kbed.netns[0])
    alive = KernelBackend(netns, owner="alive")
    gone = KernelBackend(netns, owner="gone")
    fresh: KernelBackend | None = None
    unlocked = f"nolock{kbed.suffix}"  # tables of an agent keeping its lock elsewhere
    unlocked_path = owners.lock_path(netns, unlocked)
    try:
        alive.apply(carry(kbed, 0x5102))
        gone.apply(carry(kbed, 0x5101))
        container = kbed.container()
        binding = PortBinding(
            port_id=str(uuid.uuid4()), network_id="net-20737", ip="10.78.1.5", prefixlen=24,
            mac="fa:16:3e:00:51:05", gateway="10.78.1.1", security_groups=["g"],
        )  # fmt: skip
        gone.connect(container.pid, [binding])
        gone.close()  # the lock is free, its objects stay, as after a crash
        for table in ("inet notours", f"inet dockyard_{unlocked}", f"bridge dockyard_{unlocked}"):
            nft(kbed, "add", "table", *table.split())
        assert not unlocked_path.exists()
        links = kbed.host_links(0)
        assert {bridge_name(0x5101), vxlan_name(0x5101), port_device(binding.port_id)} <= set(links)
        assert bridge_name(0x5101) in rules(kbed)
        assert routes(kbed, 0x5101)

        fresh = KernelBackend(netns, owner="fresh")

        listed = tables(kbed)
        assert "dockyard_gone" not in listed, listed
        links = kbed.host_links(0)
        for device in (bridge_name(0x5101), vxlan_name(0x5101), port_device(binding.port_id)):
            assert device not in links, links
        assert bridge_name(0x5101) not in rules(kbed)
        assert hex(network_mark(0x5101)) not in rules(kbed)
        assert not routes(kbed, 0x5101)
        # A running agent's, a table not an agent's, an agent's with no lock file here: kept.
        assert "table inet dockyard_alive" in listed, listed
        assert "table bridge dockyard_alive" in listed, listed
        assert bridge_name(0x5102) in links
        assert bridge_name(0x5102) in rules(kbed)
        assert routes(kbed, 0x5102)
        assert "table inet notours" in listed, listed
        assert f"table inet dockyard_{unlocked}" in listed, listed
        assert f"table bridge dockyard_{unlocked}" in listed, listed
        assert not unlocked_path.exists()  # looked at, never made: so never "free"
    finally:
        for table in ("inet notours", f"inet dockyard_{unlocked}", f"bridge dockyard_{unlocked}"):
            netbed.run(
                "ip",
                "netns",
                "exec",
                kbed.netns[0],
                "nft",
                "delete",
                "table",
                *table.split(),
                check=False,
            )
        for backend in (alive, gone, fresh):
            if backend is not None:
                backend.teardown()
                backend.close()
        for tag in ("alive", "gone", "fresh"):
            owners.lock_path(netns, tag).unlink(missing_ok=True)


def test_a_backend_starting_while_its_tag_is_swept_waits_for_its_lock(kbed: KernelBed) -> None:
    """Never a running agent without its lock: later sweepers would take it for stopped."""
    netns = str(netbed.NETNS_DIR / kbed.netns[0])
    KernelBackend(netns, owner="late").close()  # its lock file exists, free
    swept = threading.Event()

    def sweeper() -> None:
        with stopped_owner(netns, "late") as stopped:
            assert stopped
            swept.set()
            time.sleep(0.5)

    worker = threading.Thread(target=sweeper)
    worker.start()
    assert swept.wait(5)
    late = KernelBackend(netns, owner="late")
    try:
        worker.join(5)
        with stopped_owner(netns, "late") as stopped:
            assert not stopped  # held by `late`, which waited for the sweeper
    finally:
        late.close()
        owners.lock_path(netns, "late").unlink(missing_ok=True)


def test_a_running_backend_sweeps_again_on_a_whole_apply_now_and_then(
    kbed: KernelBed, monkeypatch: pytest.MonkeyPatch
) -> None:
    netns = str(netbed.NETNS_DIR / kbed.netns[0])
    keeps = KernelBackend(netns, owner="keeps")
    crashed = KernelBackend(netns, owner="crashed")
    try:
        crashed.apply(carry(kbed, 0x5201))
        crashed.close()
        keeps.apply(carry(kbed, 0x5202))  # a whole apply, but swept moments ago: not yet
        assert "dockyard_crashed" in tables(kbed)
        monkeypatch.setattr(vxlan, "SWEEP_EVERY", 0.0)
        keeps.apply(carry(kbed, 0x5203))
        assert "dockyard_crashed" not in tables(kbed)
        assert bridge_name(0x5201) not in kbed.host_links(0)
        assert "dockyard_keeps" in tables(kbed)
    finally:
        for backend in (keeps, crashed):
            backend.teardown()
            backend.close()
        for tag in ("keeps", "crashed"):
            owners.lock_path(netns, tag).unlink(missing_ok=True)
