"""Cluster arithmetic, pure: sizes and resizes, which members go first, where new ones go.

Senlin's rules (senlin/common/scaleutils.py), restated: a resize is EXACT_CAPACITY,
CHANGE_IN_CAPACITY or CHANGE_IN_PERCENTAGE; a percentage rounds away from zero to at least
`min_step`; a result outside [min_size, max_size] is refused when `strict`, else clamped.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dockyard.errors import Conflict, NotFound


class ClusterStatus(StrEnum):
    INIT = "INIT"
    ACTIVE = "ACTIVE"
    CREATING = "CREATING"
    UPDATING = "UPDATING"
    RESIZING = "RESIZING"
    DELETING = "DELETING"
    CHECKING = "CHECKING"
    RECOVERING = "RECOVERING"
    WARNING = "WARNING"
    ERROR = "ERROR"


class NodeStatus(StrEnum):
    INIT = "INIT"
    ACTIVE = "ACTIVE"
    CREATING = "CREATING"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    RECOVERING = "RECOVERING"
    WARNING = "WARNING"
    ERROR = "ERROR"


class ActionStatus(StrEnum):
    INIT = "INIT"
    READY = "READY"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


ACTION_DONE = frozenset({ActionStatus.SUCCEEDED, ActionStatus.FAILED, ActionStatus.CANCELLED})


class AdjustmentType(StrEnum):
    EXACT_CAPACITY = "EXACT_CAPACITY"
    CHANGE_IN_CAPACITY = "CHANGE_IN_CAPACITY"
    CHANGE_IN_PERCENTAGE = "CHANGE_IN_PERCENTAGE"


class ClusterObjectNotFound(NotFound):
    message = "The {kind} '{ident}' could not be found."


class MultipleChoices(Conflict):
    message = (
        "Multiple results found matching the query criteria '{ident}' for {kind}. "
        "Please be more specific."
    )


class SizeError(ValueError):
    """A size the cluster's bounds refuse; the text says which bound and why."""


@dataclass(frozen=True)
class Bounds:
    min_size: int
    max_size: int  # -1: unbounded

    def check(self) -> None:
        if self.min_size < 0:
            raise SizeError(f"min_size ({self.min_size}) cannot be negative.")
        if self.max_size >= 0 and self.min_size > self.max_size:
            raise SizeError(
                f"min_size ({self.min_size}) cannot be greater than max_size ({self.max_size})."
            )

    def fit(self, desired: int, strict: bool) -> int:
        """desired inside the bounds; clamped, or SizeError when strict."""
        low, high = self.min_size, self.max_size
        if desired < low:
            if strict:
                raise SizeError(
                    f"The target capacity ({desired}) is less than the cluster's min_size ({low})."
                )
            return low
        if high >= 0 and desired > high:
            if strict:
                raise SizeError(
                    f"The target capacity ({desired}) is greater than the cluster's "
                    f"max_size ({high})."
                )
            return high
        return desired


def adjusted(current: int, kind: AdjustmentType, number: float, min_step: int = 1) -> int:
    """The capacity a resize asks for, before bounds."""
    if kind is AdjustmentType.EXACT_CAPACITY:
        return int(number)
    if kind is AdjustmentType.CHANGE_IN_CAPACITY:
        return current + int(number)
    delta = current * number / 100.0
    step = math.ceil(abs(delta)) if delta else 0
    step = max(step, min_step) if number else 0
    return current + int(math.copysign(step, number))


# --- members ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """What the policies need to know of a node."""

    id: str
    created_at: datetime
    profile_created_at: datetime
    host: str | None = None
    zone: str | None = None
    healthy: bool = True


DELETION_CRITERIA = ("OLDEST_FIRST", "YOUNGEST_FIRST", "OLDEST_PROFILE_FIRST", "RANDOM")


def victims(members: Sequence[Member], count: int, criteria: str = "RANDOM") -> list[str]:
    """Which `count` members a scale-in removes: unhealthy ones first, then by the criteria
    of the deletion policy (Senlin's default without one is RANDOM)."""
    if count <= 0:
        return []
    unhealthy = [m.id for m in members if not m.healthy]
    rest = [m for m in members if m.healthy]
    if criteria == "OLDEST_FIRST":
        rest.sort(key=lambda m: m.created_at)
    elif criteria == "YOUNGEST_FIRST":
        rest.sort(key=lambda m: m.created_at, reverse=True)
    elif criteria == "OLDEST_PROFILE_FIRST":
        rest.sort(key=lambda m: (m.profile_created_at, m.created_at))
    else:
        rest = random.sample(rest, len(rest))
    return (unhealthy + [m.id for m in rest])[:count]


def zone_for_next(weights: dict[str, int], members: Sequence[Member]) -> str | None:
    """The zone a new member goes to: the one furthest below its weighted share."""
    if not weights:
        return None
    have = Counter(m.zone for m in members)
    total = sum(have[z] for z in weights) + 1
    weight_sum = sum(weights.values()) or 1

    def deficit(zone: str) -> float:
        return weights[zone] * total / weight_sum - have[zone]

    return max(sorted(weights), key=deficit)


@dataclass(frozen=True)
class Candidate:
    """A host a member may go to, as placement sees it."""

    hostname: str
    zone: str
    cpu_load: float  # 0..1: share of the host's CPUs in use


def host_for_next(
    candidates: Sequence[Candidate],
    members: Sequence[Member],
    *,
    anti_affinity: bool,
    low_cpu: bool,
) -> str | None:
    """The host a new member goes to: fewest members of the cluster first (anti-affinity),
    then lowest CPU load; None to let the scheduler decide."""
    if not candidates or not (anti_affinity or low_cpu):
        return None
    per_host = Counter(m.host for m in members)

    def key(c: Candidate) -> tuple[int, float, str]:
        spread = per_host[c.hostname] if anti_affinity else 0
        return spread, c.cpu_load if low_cpu else 0.0, c.hostname

    return min(candidates, key=key).hostname
