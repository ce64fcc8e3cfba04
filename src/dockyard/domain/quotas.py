"""Quota resources and usage amounts: Zun's four counted resources, in exact integer units."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# Zun's counted resources, in the order Zun registers them (and prints them).
RESOURCES = ("containers", "memory", "cpu", "disk")
UNLIMITED = -1
DEFAULT_CLASS = "default"  # Zun: this quota class's limits replace the configured defaults


def cpu_millis(cpu: float) -> int:
    """CPUs as whole thousandths, rounded half away from zero like SQL's ROUND.

    Usage is summed in millis so that adding and removing 0.1 CPU a thousand times comes
    back to exactly zero; floats would drift and refuse the last container of a quota.
    """
    return int(math.copysign(math.floor(abs(cpu) * 1000 + 0.5), cpu))


@dataclass(frozen=True)
class Usage:
    """An amount of the counted resources: what a project holds, or a change to it."""

    containers: int = 0
    cpu_millis: int = 0
    memory: int = 0  # MiB
    disk: int = 0  # GiB

    @classmethod
    def of(cls, *, containers: int, cpu: float, memory: int, disk: int) -> Usage:
        return cls(containers=containers, cpu_millis=cpu_millis(cpu), memory=memory, disk=disk)

    @property
    def cpu(self) -> float:
        return self.cpu_millis / 1000

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            containers=self.containers - other.containers,
            cpu_millis=self.cpu_millis - other.cpu_millis,
            memory=self.memory - other.memory,
            disk=self.disk - other.disk,
        )

    def __neg__(self) -> Usage:
        return Usage() - self

    def __add__(self, other: Usage) -> Usage:
        return self - (-other)

    def is_zero(self) -> bool:
        return self == Usage()

    def in_units(self) -> dict[str, int]:
        """Each resource in the unit limits use, except cpu, which stays in millis."""
        return {
            "containers": self.containers,
            "memory": self.memory,
            "cpu": self.cpu_millis,
            "disk": self.disk,
        }

    def shown(self) -> dict[str, int | float]:
        """Each resource as Zun reports `in_use` (cpu as a float of CPUs)."""
        return {
            "containers": self.containers,
            "memory": self.memory,
            "cpu": round(self.cpu, 3),
            "disk": self.disk,
        }


def limit_in_units(resource: str, limit: int) -> int:
    """A limit in the unit usage is stored in (cpu limits are whole CPUs, usage is millis)."""
    return limit * 1000 if resource == "cpu" and limit != UNLIMITED else limit


def exceeded(limits: Mapping[str, int], in_use: Usage, change: Usage) -> list[str]:
    """The resources that `change` would take past their limit (only growth is refused, so
    a project over a lowered limit can still shrink)."""
    used, asked = in_use.in_units(), change.in_units()
    return [
        resource
        for resource in RESOURCES
        if asked[resource] > 0
        and limits[resource] != UNLIMITED
        and used[resource] + asked[resource] > limit_in_units(resource, limits[resource])
    ]
