"""Scheduler filters: small pure predicates over a host snapshot, after Zun's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class HostSnapshot:
    uuid: str
    hostname: str
    cpus: int
    mem_total: int  # MiB
    cpu_used: float
    mem_used: int
    availability_zone: str = "nova"
    runtimes: tuple[str, ...] = ("runc",)
    labels: dict[str, str] = field(default_factory=dict)
    is_up: bool = True
    disabled: bool = False


@dataclass(frozen=True)
class PlacementRequest:
    cpu: float
    memory: int  # MiB
    availability_zone: str | None = None
    runtime: str | None = None
    hints: dict[str, str] = field(default_factory=dict)
    requested_host: str | None = None


@dataclass(frozen=True)
class Ratios:
    cpu: float = 16.0
    ram: float = 1.5

    def cpu_limit(self, host: HostSnapshot) -> float:
        return host.cpus * self.cpu

    def mem_limit(self, host: HostSnapshot) -> float:
        return host.mem_total * self.ram


class HostFilter(Protocol):
    def __call__(self, host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool: ...


def compute_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    """Only hosts whose agent is up and that the operator has not disabled."""
    return host.is_up and not host.disabled


def availability_zone_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return request.availability_zone in (None, host.availability_zone)


def runtime_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return request.runtime is None or request.runtime in host.runtimes


def requested_host_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return request.requested_host in (None, host.hostname, host.uuid)


def label_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    """Hints `label:<key>=<value>` must match the host's labels (Zun's LabelFilter)."""
    for key, value in request.hints.items():
        if key.startswith("label:") and host.labels.get(key[len("label:") :]) != value:
            return False
    return True


def cpu_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return host.cpu_used + request.cpu <= ratios.cpu_limit(host)


def ram_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return host.mem_used + request.memory <= ratios.mem_limit(host)


DEFAULT_FILTERS: tuple[HostFilter, ...] = (
    compute_filter,
    availability_zone_filter,
    runtime_filter,
    requested_host_filter,
    label_filter,
    cpu_filter,
    ram_filter,
)
