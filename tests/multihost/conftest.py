"""The many-host bed, started once for tests/multihost and removed (and checked) at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.multihost import Bed
from tests.support.wait import wait_for

# Host 0 is alone in zone az-a; hosts 1 and 2 share az-b; only host 2 has label disk=ssd.
ZONES = ("az-a", "az-b", "az-b")
LABELS: tuple[dict[str, str], ...] = ({}, {}, {"disk": "ssd"})


@pytest.fixture(scope="session")
def bed() -> Iterator[Bed]:
    # Under /tmp, not pytest's deep temp path: engine sockets must stay under 108 bytes.
    started = Bed(Path("/tmp"), zones=ZONES, labels=LABELS).start()
    print(f"\nmany-host bed up in {started.started_in:.1f} s")
    yield started
    started.close()
    left = started.leftovers()
    assert not left, f"the bed left things behind: {left}"


@pytest.fixture
def api(bed: Bed) -> Iterator[httpx.Client]:
    """Replica 1; every container a test leaves is deleted afterwards (hosts start empty)."""
    before = _charges(bed)
    with bed.apis[0].client() as client:
        yield client
    with bed.apis[0].client() as client:  # fresh connections: the test's may be spent
        _delete_all(bed, client, before)


def _charges(bed: Bed) -> dict[str, tuple[float, int]]:
    return {h["uuid"]: (h["cpu_used"], h["mem_used"]) for h in bed.list_hosts()}


def _released(before: dict[str, tuple[float, int]], now: dict[str, tuple[float, int]]) -> bool:
    """Every host that was there before carries what it carried then (CPU is summed in
    floating point: 0.1 + 0.01 - 0.1 - 0.01 leaves about 1e-16)."""
    return all(
        abs(now[uuid][0] - cpu) < 1e-6 and now[uuid][1] == mem
        for uuid, (cpu, mem) in before.items()
        if uuid in now
    )


@pytest.fixture
def neutron(bed: Bed) -> Iterator[httpx.Client]:
    """The Neutron API of replica 1 (no token: the bed's replicas run without Keystone)."""
    with httpx.Client(base_url=f"{bed.apis[0].url}/network/v2.0", timeout=30) as client:
        yield client


@pytest.fixture
def api2(bed: Bed) -> Iterator[httpx.Client]:
    with bed.apis[1].client() as client:
        yield client


def _delete_all(bed: Bed, api: httpx.Client, before: dict[str, tuple[float, int]]) -> None:
    for host in bed.hosts:  # a test may have stopped a part of the bed: bring it back
        if host.dockerd is None or host.dockerd.poll() is not None:
            host.start_engine()
        if host.agent is None or host.agent.poll() is not None:
            host.start_agent(bed)
    bed.wait_hosts_up(len(bed.hosts))
    containers = api.get("/v1/containers?all_projects=1").json()["containers"]
    for container in containers:
        api.delete(f"/v1/containers/{container['uuid']}?force=True")
    wait_for(
        lambda: not api.get("/v1/containers?all_projects=1").json()["containers"],
        timeout=60,
        what="every container of the test to be deleted",
    )
    # Nothing leaked: with the test's containers gone, its charges are gone too.
    wait_for(
        lambda: _released(before, _charges(bed)),
        timeout=30,
        what=f"every host's charges to return to {before}",
    )
