"""Each filter and weigher alone, the bounded sample, and resolving configured names
(the startup checks run `dockyard api` as a process, which fails before it serves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.scheduler.filters import (
    FILTERS,
    HostSnapshot,
    PlacementRequest,
    Ratios,
    availability_zone_filter,
    compute_filter,
    cpu_filter,
    disk_filter,
    label_filter,
    ram_filter,
    requested_host_filter,
    runtime_filter,
    volume_host_filter,
)
from dockyard.scheduler.placement import Policy, resolve, sample
from dockyard.scheduler.weighers import binpack, spread
from dockyard.settings import ZUN_FILTERS, ConfigError, SchedulerSettings
from tests.auth.test_startup import dockyard
from tests.support.server import free_port

EXACT = Ratios(cpu=1.0, ram=1.0, disk=1.0)


def host(name: str = "h", **kw: Any) -> HostSnapshot:
    base: dict[str, Any] = {"uuid": f"uuid-{name}", "hostname": name, "cpus": 4,
                            "mem_total": 1000, "cpu_used": 0.0, "mem_used": 0,
                            "disk_total": 100, "disk_used": 0}  # fmt: skip
    return HostSnapshot(**{**base, **kw})


def ask(**kw: Any) -> PlacementRequest:
    return PlacementRequest(**{"cpu": 1.0, "memory": 100, **kw})


def test_compute_filter_wants_up_enabled_and_not_forced_down() -> None:
    assert compute_filter(host(), ask(), EXACT)
    assert not compute_filter(host(is_up=False), ask(), EXACT)
    assert not compute_filter(host(disabled=True), ask(), EXACT)
    assert not compute_filter(host(forced_down=True), ask(), EXACT)


def test_availability_zone_filter_matches_only_when_asked() -> None:
    assert availability_zone_filter(host(availability_zone="z1"), ask(), EXACT)
    assert availability_zone_filter(host(availability_zone="z1"), ask(availability_zone="z1"),
                                    EXACT)  # fmt: skip
    assert not availability_zone_filter(host(), ask(availability_zone="z1"), EXACT)


def test_runtime_filter_needs_the_runtime_on_the_host() -> None:
    assert runtime_filter(host(), ask(), EXACT)
    assert runtime_filter(host(runtimes=("runc", "kata")), ask(runtime="kata"), EXACT)
    assert not runtime_filter(host(), ask(runtime="kata"), EXACT)


def test_requested_host_filter_by_name_or_uuid() -> None:
    assert requested_host_filter(host("a"), ask(), EXACT)
    assert requested_host_filter(host("a"), ask(requested_host="a"), EXACT)
    assert requested_host_filter(host("a"), ask(requested_host="uuid-a"), EXACT)
    assert not requested_host_filter(host("a"), ask(requested_host="b"), EXACT)


def test_label_filter_reads_only_label_hints() -> None:
    ssd = host(labels={"disk": "ssd"})
    assert label_filter(ssd, ask(hints={"label:disk": "ssd", "other": "ignored"}), EXACT)
    assert not label_filter(ssd, ask(hints={"label:disk": "hdd"}), EXACT)
    assert not label_filter(host(), ask(hints={"label:disk": "ssd"}), EXACT)


def test_cpu_filter_counts_usage_and_the_ratio() -> None:
    assert cpu_filter(host(cpu_used=3.0), ask(cpu=1.0), EXACT)  # exactly full fits
    assert not cpu_filter(host(cpu_used=3.5), ask(cpu=1.0), EXACT)
    assert cpu_filter(host(cpu_used=3.5), ask(cpu=1.0), Ratios(cpu=2.0))


def test_ram_filter_counts_usage_and_the_ratio() -> None:
    assert ram_filter(host(mem_used=900), ask(memory=100), EXACT)
    assert not ram_filter(host(mem_used=901), ask(memory=100), EXACT)
    assert ram_filter(host(mem_used=901), ask(memory=100), Ratios(ram=1.5))


def test_disk_filter_counts_gib_and_no_disk_always_fits() -> None:
    assert disk_filter(host(disk_used=100), ask(), EXACT)  # asks for none
    assert disk_filter(host(disk_used=90), ask(disk=10), EXACT)
    assert not disk_filter(host(disk_used=91), ask(disk=10), EXACT)
    assert not disk_filter(host(disk_total=0), ask(disk=1), EXACT)


def test_spread_and_binpack_order_by_free_room() -> None:
    empty, half = host("empty"), host("half", cpu_used=2.0, mem_used=500)
    assert spread(empty, EXACT) > spread(half, EXACT)
    assert binpack(half, EXACT) > binpack(empty, EXACT)


def test_sample_looks_at_a_bounded_number_of_feasible_hosts() -> None:
    hosts = [host(f"h{i}", cpu_used=float(i % 4)) for i in range(100)]
    policy = Policy(weigher=spread)
    rounds = list(sample(hosts, 37, ask(), EXACT, policy, 5))
    assert [len(r) for r in rounds] == [5] * 20  # every host, in rounds of 5
    first = rounds[0]
    assert [h.hostname for h in first] == sorted(
        (h.hostname for h in hosts[37:42]), key=lambda n: int(n[1:]) % 4)  # fmt: skip
    full = [host("full", cpu_used=4.0), host("room")]
    assert [[h.hostname for h in r] for r in sample(full, 0, ask(), EXACT, policy, 5)] == [["room"]]


def test_sample_respects_the_policy_filters_and_requested_host() -> None:
    hosts = [host("a", is_up=False), host("b")]
    assert next(iter(sample(hosts, 0, ask(), EXACT, Policy(filters=()), 5)))[0].hostname == "a"
    assert list(
        sample(hosts, 0, ask(requested_host="a"), EXACT, resolve(["RamFilter"], "spread"), 5)
    )
    only_b = resolve(["ComputeFilter"], "binpack")
    assert list(sample(hosts, 0, ask(requested_host="a"), EXACT, only_b, 5)) == []


def test_a_named_volume_pins_the_request_to_its_host_whatever_the_policy() -> None:
    assert volume_host_filter(host("a"), ask(), EXACT)
    assert volume_host_filter(host("a"), ask(volume_host="uuid-a"), EXACT)
    assert not volume_host_filter(host("a"), ask(volume_host="uuid-b"), EXACT)
    hosts = [host("a"), host("b")]
    none = Policy(filters=())  # no configured filter switches the pin off
    placed = list(sample(hosts, 0, ask(volume_host="uuid-b"), EXACT, none, 5))
    assert [h.hostname for round_ in placed for h in round_] == ["b"]
    clash = ask(volume_host="uuid-b", requested_host="a")
    assert list(sample(hosts, 0, clash, EXACT, none, 5)) == []


def test_resolve_names_filters_by_zun_names_and_refuses_unknown_ones() -> None:
    assert set(ZUN_FILTERS) == set(FILTERS)
    assert resolve(SchedulerSettings().filters, "spread") == Policy(tuple(FILTERS.values()), spread)
    with pytest.raises(ConfigError, match=r"NoSuchFilter.*known: ComputeFilter"):
        resolve(["ComputeFilter", "NoSuchFilter"], "spread")
    with pytest.raises(ConfigError, match=r"weigher fastest.*spread, binpack"):
        resolve([], "fastest")


def test_filters_setting_reads_json_or_comma_separated_env(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dockyard.settings import Settings

    monkeypatch.setenv("DOCKYARD_SCHEDULER__FILTERS", "ComputeFilter, RamFilter")
    assert Settings().scheduler.filters == ["ComputeFilter", "RamFilter"]
    monkeypatch.setenv("DOCKYARD_SCHEDULER__FILTERS", '["DiskFilter"]')
    assert Settings().scheduler.filters == ["DiskFilter"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOCKYARD_SCHEDULER__FILTERS": "ComputeFilter,RamFiltre"}, "filter(s) RamFiltre"),
        ({"DOCKYARD_SCHEDULER__WEIGHER": "random"}, "Unknown scheduler weigher random"),
    ],
)
def test_unknown_filter_or_weigher_stops_the_api_before_it_serves(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = dockyard(tmp_path, "api", "--port", str(free_port()), "--join-token", "t", **env)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
