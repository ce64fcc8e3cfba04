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
    disk_total: int = 0  # GiB
    disk_used: int = 0
    availability_zone: str = "nova"
    runtimes: tuple[str, ...] = ("runc",)
    labels: dict[str, str] = field(default_factory=dict)
    is_up: bool = True
    disabled: bool = False
    forced_down: bool = False


@dataclass(frozen=True)
class PlacementRequest:
    cpu: float
    memory: int  # MiB
    availability_zone: str | None = None
    runtime: str | None = None
    hints: dict[str, str] = field(default_factory=dict)
    requested_host: str | None = None
    disk: int = 0  # GiB
    volume_host: str | None = None  # uuid of the host that has its local named volumes


@dataclass(frozen=True)
class Ratios:
    """Overcommit per resource (Zun's allocation ratios); limit = capacity × ratio."""

    cpu: float = 16.0
    ram: float = 1.5
    disk: float = 1.0

    def cpu_limit(self, host: HostSnapshot) -> float:
        return host.cpus * self.cpu

    def mem_limit(self, host: HostSnapshot) -> float:
        return host.mem_total * self.ram

    def disk_limit(self, host: HostSnapshot) -> float:
        return host.disk_total * self.disk


class HostFilter(Protocol):
    def __call__(self, host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool: ...


def compute_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    """Only hosts whose agent is up and that the operator has neither disabled nor forced down."""
    return host.is_up and not host.disabled and not host.forced_down


def availability_zone_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return request.availability_zone in (None, host.availability_zone)


def runtime_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return request.runtime is None or request.runtime in host.runtimes


def requested_host_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return request.requested_host in (None, host.hostname, host.uuid)


def volume_host_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    """A container that mounts a local named volume runs where the volume's data is."""
    return request.volume_host in (None, host.uuid)


def label_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    """Hints `label:<key>=<value>` must match the host's labels (Zun's LabelFilter)."""
    for key, value in request.hints.items():
        if key.startswith("label:") and host.labels.get(key[len("label:") :]) != value:
            return False
    return True


# CPUs are floats: 0.7 + 0.3 may come out a hair above 1.0, and a sum depends on the order
# it was added in (a batch claims its containers' total at once). Far below any real share.
CPU_SLACK = 1e-9


def cpu_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return host.cpu_used + request.cpu <= ratios.cpu_limit(host) + CPU_SLACK


def ram_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    return host.mem_used + request.memory <= ratios.mem_limit(host)


def disk_filter(host: HostSnapshot, request: PlacementRequest, ratios: Ratios) -> bool:
    """GiB of container disk against the host's (Zun's DiskFilter); asking for none always fits."""
    return request.disk == 0 or host.disk_used + request.disk <= ratios.disk_limit(host)


# By Zun's names, so an operator's Zun filter list reads the same here. A requested host is
# not in the list: asking for a host is a constraint of the request, never switched off;
# nor is the host of a named volume.
FILTERS: dict[str, HostFilter] = {
    "ComputeFilter": compute_filter,
    "AvailabilityZoneFilter": availability_zone_filter,
    "RuntimeFilter": runtime_filter,
    "CPUFilter": cpu_filter,
    "RamFilter": ram_filter,
    "DiskFilter": disk_filter,
    "LabelFilter": label_filter,
}

DEFAULT_FILTERS: tuple[HostFilter, ...] = tuple(FILTERS.values())
