"""Pure placement: filter the hosts, weigh the rest, return candidates best first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from dockyard.scheduler.filters import (
    DEFAULT_FILTERS,
    FILTERS,
    HostFilter,
    HostSnapshot,
    PlacementRequest,
    Ratios,
    requested_host_filter,
    volume_host_filter,
)
from dockyard.scheduler.weighers import WEIGHERS, Weigher, spread
from dockyard.settings import ConfigError


@dataclass(frozen=True)
class Policy:
    """The operator's choice of filters and weigher, resolved from their names once."""

    filters: tuple[HostFilter, ...] = DEFAULT_FILTERS
    weigher: Weigher = spread


def resolve(filter_names: Sequence[str], weigher_name: str) -> Policy:
    """The Policy for configured names; ConfigError names what is unknown and what exists."""
    unknown = [name for name in filter_names if name not in FILTERS]
    if unknown:
        raise ConfigError(
            f"Unknown scheduler filter(s) {', '.join(unknown)}; known: {', '.join(FILTERS)}."
        )
    if weigher_name not in WEIGHERS:
        raise ConfigError(
            f"Unknown scheduler weigher {weigher_name}; known: {', '.join(WEIGHERS)}."
        )
    return Policy(tuple(FILTERS[name] for name in filter_names), WEIGHERS[weigher_name])


def passes(host: HostSnapshot, request: PlacementRequest, ratios: Ratios, policy: Policy) -> bool:
    pinned = requested_host_filter(host, request, ratios)
    return (
        pinned
        and volume_host_filter(host, request, ratios)
        and all(f(host, request, ratios) for f in policy.filters)
    )


def candidates(
    hosts: Iterable[HostSnapshot],
    request: PlacementRequest,
    ratios: Ratios,
    *,
    filters: Sequence[HostFilter] = DEFAULT_FILTERS,
    weigher: Weigher = spread,
) -> list[HostSnapshot]:
    """Hosts that can take the request, best first (ties broken by hostname for stability)."""
    policy = Policy(tuple(filters), weigher)
    passing = [h for h in hosts if passes(h, request, ratios, policy)]
    return sorted(passing, key=lambda h: (-weigher(h, ratios), h.hostname))


def sample(
    hosts: Sequence[HostSnapshot],
    start: int,
    request: PlacementRequest,
    ratios: Ratios,
    policy: Policy,
    limit: int,
) -> Iterator[list[HostSnapshot]]:
    """Feasible hosts in rounds of up to `limit`, each round best first.

    The scan goes round `hosts` once from `start`, so with hosts in a shuffled order and a
    random start it looks at a few random feasible hosts instead of all of them (Nomad's
    bounded search, "the power of k choices"): the cost does not grow with the number of
    hosts, and concurrent placers rarely pick the same host. Later rounds are for when every
    claim of a round was lost.
    """
    found: list[HostSnapshot] = []
    count = len(hosts)
    for i in range(count):
        host = hosts[(start + i) % count]
        if passes(host, request, ratios, policy):
            found.append(host)
            if len(found) == limit:
                yield sorted(found, key=lambda h: -policy.weigher(h, ratios))
                found = []
    if found:
        yield sorted(found, key=lambda h: -policy.weigher(h, ratios))
