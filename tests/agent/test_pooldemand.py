"""The warm pool's target: grows with a burst, never past the ceiling, shrinks back slowly."""

from __future__ import annotations

from dockyard.agent.pooldemand import HOLD, SHRINK_EVERY, WINDOW, PoolDemand


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_target_starts_at_the_floor_and_grows_with_a_burst() -> None:
    clock = Clock()
    demand = PoolDemand(2, 32, clock)
    assert demand.target() == 2
    for _ in range(20):
        demand.asked()
        clock.now += 0.1
    assert demand.target() == 20


def test_target_never_passes_the_ceiling() -> None:
    clock = Clock()
    demand = PoolDemand(2, 8, clock)
    for _ in range(50):
        demand.asked()
    assert demand.target() == 8


def test_target_holds_after_a_burst_then_shrinks_one_by_one_to_the_floor() -> None:
    clock = Clock()
    demand = PoolDemand(2, 32, clock)
    for _ in range(10):
        demand.asked()
    clock.now += HOLD  # idle, but still within the hold
    assert demand.target() == 10
    clock.now += SHRINK_EVERY / 2
    assert demand.target() == 9
    clock.now += SHRINK_EVERY
    assert demand.target() == 8
    clock.now += 100 * SHRINK_EVERY
    assert demand.target() == 2


def test_a_steady_trickle_keeps_its_size_per_window() -> None:
    clock = Clock()
    demand = PoolDemand(1, 32, clock)
    step = WINDOW / 5  # five requests per window, for many windows
    for _ in range(40):
        demand.asked()
        clock.now += step
    assert demand.target() == 5


def test_a_request_after_some_shrinking_holds_the_shrunk_target() -> None:
    clock = Clock()
    demand = PoolDemand(0, 32, clock)
    for _ in range(10):
        demand.asked()
    clock.now += HOLD + 3.5 * SHRINK_EVERY  # down to 6, and the burst left the window
    demand.asked()
    clock.now += HOLD
    assert demand.target() == 6
