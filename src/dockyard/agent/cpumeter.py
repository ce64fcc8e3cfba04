"""How much CPU this host's containers use, read from the kernel's cgroup accounting.

The control plane knows what containers claim (their `cpu`); what they use can be far from
it either way, and the placement that prefers hosts with low CPU use wants the latter. The
engine's stats call costs a round trip (and a wait) per container, so the agent reads the
cumulative CPU time the kernel keeps per container cgroup instead: one small file each.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# Where an engine container's CPU time is, in the cgroup layouts Docker uses, and the unit.
LAYOUTS: tuple[tuple[str, str], ...] = (
    ("cpuacct/docker/{id}/cpuacct.usage", "ns"),  # cgroup v1, cgroupfs driver
    ("cpu,cpuacct/docker/{id}/cpuacct.usage", "ns"),
    ("docker/{id}/cpu.stat", "usage_usec"),  # cgroup v2, cgroupfs driver
    ("system.slice/docker-{id}.scope/cpu.stat", "usage_usec"),  # cgroup v2, systemd driver
)


class CpuMeter:
    """CPUs used between two samples by the containers present in both."""

    def __init__(self, root: Path = CGROUP_ROOT) -> None:
        self.root = root
        self._layout: tuple[str, str] | None = None  # the first that answered
        self._last: tuple[float, dict[str, float]] | None = None

    def sample(self, engine_ids: Iterable[str]) -> float | None:
        """CPUs (cores' worth) these containers used since the previous sample; None at the
        first sample, and when no container's accounting can be found (another layout)."""
        ids = list(engine_ids)
        now = time.monotonic()
        totals = {i: t for i in ids if (t := self._seconds(i)) is not None}
        last, self._last = self._last, (now, totals)
        if last is None or (ids and not totals) or now <= last[0]:
            return None
        used = sum(max(0.0, t - last[1][i]) for i, t in totals.items() if i in last[1])
        return round(used / (now - last[0]), 4)

    def _seconds(self, engine_id: str) -> float | None:
        layouts = (self._layout,) if self._layout is not None else LAYOUTS
        for layout in layouts:
            try:
                text = (self.root / layout[0].format(id=engine_id)).read_text()
            except OSError:
                continue
            self._layout = layout
            return _cpu_seconds(text, layout[1])
        return None


def _cpu_seconds(text: str, unit: str) -> float | None:
    if unit == "ns":
        return int(text.strip()) / 1e9
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == unit:
            return int(value) / 1e6
    return None
