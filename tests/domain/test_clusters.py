"""Cluster arithmetic without a database: resizes, bounds, victims, zones, hosts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dockyard.domain.clusters import (
    AdjustmentType,
    Bounds,
    Candidate,
    Member,
    SizeError,
    adjusted,
    host_for_next,
    victims,
    zone_for_next,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def member(ident: str, age: int, **fields: object) -> Member:
    created = T0 + timedelta(minutes=age)
    return Member(ident, created, fields.pop("profile_at", created), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "number", "min_step", "expected"),
    [
        (AdjustmentType.EXACT_CAPACITY, 7, 1, 7),
        (AdjustmentType.CHANGE_IN_CAPACITY, -2, 1, 2),
        (AdjustmentType.CHANGE_IN_PERCENTAGE, 10, 1, 5),  # 0.4 rounds away from zero to 1
        (AdjustmentType.CHANGE_IN_PERCENTAGE, 10, 3, 7),  # at least min_step
        (AdjustmentType.CHANGE_IN_PERCENTAGE, -50, 1, 2),
    ],
)
def test_adjustment_types_compute_the_new_capacity(
    kind: AdjustmentType, number: float, min_step: int, expected: int
) -> None:
    assert adjusted(4, kind, number, min_step) == expected


def test_strict_resize_outside_the_bounds_is_refused_and_a_loose_one_clamped() -> None:
    bounds = Bounds(1, 3)
    with pytest.raises(SizeError, match="greater than the cluster's max_size"):
        bounds.fit(5, strict=True)
    with pytest.raises(SizeError, match="less than the cluster's min_size"):
        bounds.fit(0, strict=True)
    assert (bounds.fit(5, strict=False), bounds.fit(0, strict=False)) == (3, 1)
    assert Bounds(0, -1).fit(1000, strict=True) == 1000


def test_min_size_above_max_size_is_refused() -> None:
    with pytest.raises(SizeError, match="cannot be greater"):
        Bounds(3, 2).check()


def test_unhealthy_members_go_first_then_by_the_criteria() -> None:
    members = [member("old", 0), member("mid", 5), member("young", 9),
               member("sick", 4, healthy=False)]  # fmt: skip
    assert victims(members, 2, "OLDEST_FIRST") == ["sick", "old"]
    assert victims(members, 2, "YOUNGEST_FIRST") == ["sick", "young"]
    assert set(victims(members, 4, "RANDOM")) == {"old", "mid", "young", "sick"}
    assert victims(members, 0, "RANDOM") == []


def test_oldest_profile_first_prefers_members_of_an_older_profile() -> None:
    members = [member("new-profile", 0, profile_at=T0 + timedelta(days=1)),
               member("old-profile", 9, profile_at=T0)]  # fmt: skip
    assert victims(members, 1, "OLDEST_PROFILE_FIRST") == ["old-profile"]


def test_zones_fill_to_their_weights() -> None:
    weights = {"az-a": 1, "az-b": 3}
    placed: list[Member] = []
    for i in range(8):
        placed.append(member(str(i), i, zone=zone_for_next(weights, placed)))
    assert sorted(m.zone or "" for m in placed).count("az-b") == 6
    assert zone_for_next({}, placed) is None


def test_anti_affinity_picks_the_host_with_fewest_members_then_lowest_cpu() -> None:
    hosts = [
        Candidate("h1", "nova", 0.1),
        Candidate("h2", "nova", 0.5),
        Candidate("h3", "nova", 0.2),
    ]
    members = [member("a", 0, host="h1")]
    assert host_for_next(hosts, members, anti_affinity=True, low_cpu=True) == "h3"
    assert host_for_next(hosts, members, anti_affinity=False, low_cpu=True) == "h1"
    assert host_for_next(hosts, members, anti_affinity=False, low_cpu=False) is None
