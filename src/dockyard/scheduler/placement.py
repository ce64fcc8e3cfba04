"""Pure placement: filter the hosts, weigh the rest, return candidates best first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dockyard.scheduler.filters import (
    DEFAULT_FILTERS,
    HostFilter,
    HostSnapshot,
    PlacementRequest,
    Ratios,
)
from dockyard.scheduler.weighers import Weigher, spread


def candidates(
    hosts: Iterable[HostSnapshot],
    request: PlacementRequest,
    ratios: Ratios,
    *,
    filters: Sequence[HostFilter] = DEFAULT_FILTERS,
    weigher: Weigher = spread,
) -> list[HostSnapshot]:
    """Hosts that can take the request, best first (ties broken by hostname for stability)."""
    passing = [h for h in hosts if all(f(h, request, ratios) for f in filters)]
    return sorted(passing, key=lambda h: (-weigher(h, ratios), h.hostname))
