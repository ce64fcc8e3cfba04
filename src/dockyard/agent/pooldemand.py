"""How many warm sandboxes to keep: grows with recent demand, shrinks back slowly when idle."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 10.0  # seconds: sandboxes asked for within this long count as one burst
HOLD = 120.0  # seconds the target stays at a peak after the last sandbox was asked for
SHRINK_EVERY = 30.0  # seconds per sandbox the target loses after HOLD


class PoolDemand:
    """The warm pool's target: the largest burst of sandbox requests seen lately.

    A burst is the number of sandboxes asked for (claimed from the pool or made on the
    spot) within WINDOW seconds. After a burst of N the target is N (within
    [floor, ceiling]) so that the next burst of that size finds its sandboxes made; once
    requests stop, the target holds for HOLD seconds and then drops by one every
    SHRINK_EVERY seconds, down to the floor. A steady trickle keeps the target at the
    trickle's size per WINDOW, so a regular user does not lose the pool between creates.
    """

    def __init__(
        self, floor: int, ceiling: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.floor = max(0, floor)
        self.ceiling = max(self.floor, ceiling)
        self.clock = clock
        self._asked: deque[float] = deque()  # times of requests within WINDOW
        self._peak = 0  # the largest burst since the target last fell to the floor
        self._peak_at = 0.0  # when the last request was

    def asked(self) -> None:
        """One sandbox was asked for now."""
        now = self.clock()
        self._forget(now)
        self._asked.append(now)
        self._peak = max(self._decayed(now), len(self._asked))
        self._peak_at = now

    def target(self) -> int:
        """Free sandboxes to keep warm now."""
        now = self.clock()
        self._forget(now)
        wanted = max(self._decayed(now), len(self._asked))
        return min(self.ceiling, max(self.floor, wanted))

    def _decayed(self, now: float) -> int:
        idle = now - self._peak_at - HOLD
        if idle <= 0:
            return self._peak
        return max(0, self._peak - int(idle // SHRINK_EVERY) - 1)

    def _forget(self, now: float) -> None:
        while self._asked and self._asked[0] <= now - WINDOW:
            self._asked.popleft()
