"""Where a new member goes: the profile's host_node / host_cluster, then the placement
policies attached to the cluster (zones by weight, anti-affinity, low CPU use)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dockyard.db.clusters_tables import ClusterProfileRow
from dockyard.domain.clusters import Member, host_for_next, zone_for_next
from dockyard.schemas.clusters_specs import AffinityPolicy, ZonePlacementPolicy
from dockyard.services.clusters_members import HostInfo, Placement


@dataclass
class PlacementRules:
    """What the cluster's profile and policies ask of placement."""

    host_node: str | None = None
    host_cluster: str | None = None
    zone_weights: dict[str, int] = field(default_factory=dict)
    anti_affinity: bool = False
    low_cpu: bool = False

    @classmethod
    def of(cls, profile: ClusterProfileRow, policies: dict[str, Any]) -> PlacementRules:
        props = profile.spec.get("properties", {})
        rules = cls(host_node=props.get("host_node"), host_cluster=props.get("host_cluster"))
        zones = policies.get("senlin.policy.zone_placement")
        if isinstance(zones, ZonePlacementPolicy):
            rules.zone_weights = {z.name: z.weight for z in zones.zones}
        affinity = policies.get("senlin.policy.affinity")
        rules.anti_affinity = isinstance(affinity, AffinityPolicy)
        rules.low_cpu = "dockyard.policy.low_cpu_placement" in policies
        return rules

    @property
    def chooses_hosts(self) -> bool:
        return self.anti_affinity or self.low_cpu


def place(rules: PlacementRules, hosts: Sequence[HostInfo], members: Sequence[Member]) -> Placement:
    """The placement of one more member, given where the others are."""
    if rules.host_node:
        return Placement(host=rules.host_node)
    zone = zone_for_next(rules.zone_weights, members)
    group = rules.host_cluster
    if rules.chooses_hosts:
        fitting = [
            h
            for h in hosts
            if (zone is None or h.zone == zone) and (not group or h.in_group(group))
        ]
        host = host_for_next(
            [h.candidate() for h in fitting], members,
            anti_affinity=rules.anti_affinity, low_cpu=rules.low_cpu,
        )  # fmt: skip
        if host is not None:
            return Placement(host=host, zone=zone)
    hints: tuple[tuple[str, str], ...] = ()
    if group and "=" in group:
        key, _, value = group.partition("=")
        hints = ((f"label:{key}", value),)
    elif group and zone is None:
        zone = group
    return Placement(zone=zone, hints=hints)
