"""Scheduler weighers: score a host that passed the filters; higher is better."""

from __future__ import annotations

from collections.abc import Callable

from dockyard.scheduler.filters import HostSnapshot, Ratios

Weigher = Callable[[HostSnapshot, Ratios], float]


def _free_fraction(host: HostSnapshot, ratios: Ratios) -> float:
    cpu_limit, mem_limit = ratios.cpu_limit(host), ratios.mem_limit(host)
    cpu_free = (cpu_limit - host.cpu_used) / cpu_limit if cpu_limit else 0.0
    mem_free = (mem_limit - host.mem_used) / mem_limit if mem_limit else 0.0
    return (cpu_free + mem_free) / 2


def spread(host: HostSnapshot, ratios: Ratios) -> float:
    """Prefer the emptiest host: load spreads, failures hit fewer containers."""
    return _free_fraction(host, ratios)


def binpack(host: HostSnapshot, ratios: Ratios) -> float:
    """Prefer the fullest host that still fits: keeps whole hosts free."""
    return -_free_fraction(host, ratios)


WEIGHERS: dict[str, Weigher] = {"spread": spread, "binpack": binpack}
