"""Placement on real hosts: spreading, resource limits, zones, labels, requested host."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from tests.multihost.common import NO_HOST, engine_holders, run, wait_settled
from tests.support.multihost import Bed


def test_containers_spread_evenly_and_run_where_the_api_says(bed: Bed, api: httpx.Client) -> None:
    # One at a time: placements made at the same moment may pick the same emptiest host
    # (allowed: no host is over-committed, which test_concurrency proves through two
    # replicas). Either replica's scheduler may place any of them (every create wakes both):
    # each counts the claims the other committed before it chooses.
    shown = [wait_settled(api, run(api, f"spread-{i}")["uuid"]) for i in range(6)]
    assert {c["status"] for c in shown} == {"Running"}, [c["status_reason"] for c in shown]
    placed = Counter(c["host"] for c in shown)
    assert placed == Counter({h.name: 2 for h in bed.hosts}), placed
    for container in shown:  # exactly one engine container, on the host the API names
        assert engine_holders(bed, container["uuid"]) == [container["host"]]


def test_container_as_big_as_a_host_allows_runs_there(bed: Bed, api: httpx.Client) -> None:
    # Every bed host has 2 CPUs at an allocation ratio of 2: room for 4 CPUs (less the
    # sandbox's share) each.
    shown = wait_settled(api, run(api, "fits", cpu=3.9)["uuid"])
    assert shown["status"] == "Running"
    assert engine_holders(bed, shown["uuid"]) == [shown["host"]]


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"cpu": 4.5}, id="more-cpu-than-any-host"),
        pytest.param({"availability_zone": "az-nowhere"}, id="unknown-zone"),
        pytest.param({"hints": {"label:disk": "nvme"}}, id="label-no-host-has"),
        pytest.param({"host": "no-such-host"}, id="requested-host-unknown"),
    ],
)
def test_container_no_host_can_take_is_error_and_can_be_deleted(
    bed: Bed, api: httpx.Client, fields: dict[str, Any]
) -> None:
    created = run(api, "homeless", **fields)
    shown = wait_settled(api, created["uuid"], timeout=15)
    assert (shown["status"], shown["status_reason"]) == ("Error", NO_HOST)
    assert engine_holders(bed, created["uuid"]) == []
    assert api.delete(f"/v1/containers/{created['uuid']}").status_code == 204
    assert api.get(f"/v1/containers/{created['uuid']}").status_code == 404


def test_availability_zone_places_only_in_that_zone(bed: Bed, api: httpx.Client) -> None:
    alone = [run(api, f"zone-a-{i}", availability_zone="az-a") for i in range(2)]
    shared = [run(api, f"zone-b-{i}", availability_zone="az-b") for i in range(4)]
    assert {wait_settled(api, c["uuid"])["host"] for c in alone} == {bed.hosts[0].name}
    assert {wait_settled(api, c["uuid"])["host"] for c in shared} == {
        bed.hosts[1].name,
        bed.hosts[2].name,
    }


def test_label_hint_places_on_the_labelled_host_only(bed: Bed, api: httpx.Client) -> None:
    ssd = [run(api, f"ssd-{i}", hints={"label:disk": "ssd"}) for i in range(3)]
    assert {wait_settled(api, c["uuid"])["host"] for c in ssd} == {bed.hosts[2].name}


def test_requested_host_is_honoured_for_admins_from_1_39(bed: Bed, api: httpx.Client) -> None:
    target = bed.hosts[1].name
    for container in [run(api, f"pinned-{i}", host=target) for i in range(3)]:
        shown = wait_settled(api, container["uuid"])
        assert shown["host"] == target
        assert engine_holders(bed, container["uuid"]) == [target]
    with bed.apis[0].client("1.38") as old:
        response = old.post(
            "/v1/containers", json={"name": "pinned-old", "image": "x", "host": target}
        )
    assert response.status_code == 400, response.text
