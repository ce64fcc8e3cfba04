"""Pure placement: filters narrow the hosts, weighers order them."""

from __future__ import annotations

from typing import Any

from dockyard.scheduler.filters import HostSnapshot, PlacementRequest, Ratios
from dockyard.scheduler.placement import candidates
from dockyard.scheduler.weighers import binpack, spread

RATIOS = Ratios(cpu=1.0, ram=1.0)


def host(name: str, **kw: Any) -> HostSnapshot:
    base: dict[str, Any] = {"uuid": name, "hostname": name, "cpus": 4, "mem_total": 1000,
                            "cpu_used": 0.0, "mem_used": 0}  # fmt: skip
    base.update(kw)
    return HostSnapshot(**base)


def names(hosts: list[HostSnapshot]) -> list[str]:
    return [h.hostname for h in hosts]


def test_down_and_disabled_hosts_are_filtered_out() -> None:
    hosts = [host("a", is_up=False), host("b", disabled=True), host("c")]
    assert names(candidates(hosts, PlacementRequest(cpu=1, memory=10), RATIOS)) == ["c"]


def test_hosts_without_room_are_filtered_out() -> None:
    hosts = [host("a", cpu_used=3.5), host("b", mem_used=995), host("c")]
    assert names(candidates(hosts, PlacementRequest(cpu=1, memory=10), RATIOS)) == ["c"]


def test_allocation_ratio_allows_overcommit() -> None:
    busy = host("a", cpu_used=4.0)
    request = PlacementRequest(cpu=1, memory=10)
    assert candidates([busy], request, RATIOS) == []
    assert names(candidates([busy], request, Ratios(cpu=16.0, ram=1.0))) == ["a"]


def test_requested_host_zone_runtime_and_labels_narrow_the_choice() -> None:
    hosts = [
        host("a", availability_zone="z1", labels={"ssd": "yes"}),
        host("b", availability_zone="z2", runtimes=("runc", "crun")),
    ]
    assert names(candidates(hosts, PlacementRequest(1, 10, requested_host="b"), RATIOS)) == ["b"]
    assert names(candidates(hosts, PlacementRequest(1, 10, availability_zone="z1"), RATIOS)) == [
        "a"
    ]
    assert names(candidates(hosts, PlacementRequest(1, 10, runtime="crun"), RATIOS)) == ["b"]
    hints = {"label:ssd": "yes"}
    assert names(candidates(hosts, PlacementRequest(1, 10, hints=hints), RATIOS)) == ["a"]


def test_spread_prefers_the_emptiest_host_and_binpack_the_fullest() -> None:
    hosts = [host("full", cpu_used=3.0, mem_used=700), host("empty")]
    request = PlacementRequest(cpu=0.5, memory=10)
    assert names(candidates(hosts, request, RATIOS, weigher=spread)) == ["empty", "full"]
    assert names(candidates(hosts, request, RATIOS, weigher=binpack)) == ["full", "empty"]
