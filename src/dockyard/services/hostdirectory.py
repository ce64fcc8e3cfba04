"""A replica's in-memory index of the hosts: placement and rendering read it, not the table."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from dockyard.db.engine import Session, Sessions
from dockyard.db.repositories.hosts import HostRepository, HostState, HostUsage
from dockyard.db.tables import utcnow
from dockyard.scheduler.filters import HostSnapshot, PlacementRequest, Ratios
from dockyard.scheduler.placement import Policy, resolve, sample
from dockyard.settings import SchedulerSettings

# Re-read rows changed this long before the newest change seen: a transaction that stamped
# updated_at before the last refresh may commit after it.
SLACK = timedelta(seconds=2)
# Then read everything: catches what the slack missed (a long transaction's release) and
# hosts that were removed. Nothing depends on it for safety: claims are checked in SQL.
FULL_EVERY = 30.0


class HostDirectory:
    """Every host's capacity, usage and state, refreshed from rows whose updated_at moved.

    Each replica keeps one. It can lag (by up to `index_refresh` seconds, or a lost race):
    placement only uses it to choose candidates, and the claim, a conditional UPDATE, is
    the only source of truth; a lost claim re-reads that host at once. Placement does not
    take the lag on usage, though: every committed claim, this replica's or another's
    (through the change feed), marks its host moved, and placement re-reads those first.
    """

    def __init__(self, sessions: Sessions, settings: SchedulerSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self.policy: Policy = resolve(settings.filters, settings.weigher)
        self.ratios = Ratios(
            cpu=settings.cpu_allocation_ratio,
            ram=settings.ram_allocation_ratio,
            disk=settings.disk_allocation_ratio,
        )
        self._hosts: dict[str, HostSnapshot] = {}
        self._order: list[HostSnapshot] = []  # shuffled: placement scans from a random point
        self._position: dict[str, int] = {}
        self._by_name: dict[str, str] = {}
        self._seen: dict[str, datetime] = {}  # last heartbeat
        self._down: set[str] = set()
        self._recheck: set[str] = set()  # claimed here: re-read even if rolled back
        self._moved: set[str] = set()  # changed in a commit since they were last read
        self._watermark: datetime | None = None
        self._loaded_at = float("-inf")
        self._full_at = float("-inf")
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._loaded_at = float("-inf")

    def moved(self, host_uuid: str) -> None:
        """A commit changed the host's row (a claim bumps its revision and publishes it):
        placement re-reads it before its next choice. Called for this replica's commits and,
        through the change feed, for the other replicas'.

        Without it a replica placed from usage read up to index_refresh ago. Every create
        wakes every replica's scheduler, so one create after another the replica placing
        one was often not the one that placed the one before: it saw that host emptier than
        it was, and spread put a third container on it while another host had one."""
        self._moved.add(host_uuid)

    async def fresh(
        self, session: Session | None = None, *, force: bool = False, placing: bool = False
    ) -> None:
        """Bring the index up to date if it is older than index_refresh (or `force`).

        `placing`: also re-read the hosts marked moved since their last read, whatever the
        index's age, so that a choice counts every claim committed so far (one query on
        just those hosts; readers that only render names or liveness skip it).

        A caller inside a transaction passes its session: a second connection per placer
        could exhaust the pool while every placer holds one and waits for another.
        """
        if (
            not force
            and not (placing and self._moved)
            and time.monotonic() - self._loaded_at < self._settings.index_refresh
        ):
            return
        if session is not None:
            await self._locked_refresh(session, force, placing)
            return
        async with self._sessions() as own:
            # The connection first, the lock second: waiting for a pooled connection while
            # holding the lock would stall every placer that waits for the lock holding one.
            await own.connection()
            await self._locked_refresh(own, force, placing)

    async def _locked_refresh(self, session: Session, force: bool, placing: bool) -> None:
        started = time.monotonic()
        async with self._lock:
            # Forced: unless another caller refreshed while this one waited for the lock.
            if (
                force and self._loaded_at < started
            ) or time.monotonic() - self._loaded_at >= self._settings.index_refresh:
                await self._refresh(session)
            elif placing and self._moved:
                # Under the lock, so after any refresh in flight: one whose read began before
                # a claim's commit and ended after it wrote the older usage back.
                await self._reread_moved(session)

    async def names(self, host_uuids: set[str]) -> dict[str, str]:
        await self.fresh()
        return {u: self._hosts[u].hostname for u in host_uuids if u in self._hosts}

    async def down(self) -> set[str]:
        """Hosts whose heartbeat stopped or that an operator forced down."""
        await self.fresh()
        self._expire(utcnow() - self._down_after())  # silent since the last refresh too
        return set(self._down)

    def rounds(self, request: PlacementRequest) -> Iterator[list[HostSnapshot]]:
        """Candidate hosts for request in rounds, each best first (see scheduler.sample)."""
        pin = request.requested_host or request.volume_host  # passes() checks both
        if pin is not None:
            uuid = self._by_name.get(pin, pin)
            hosts = [self._hosts[uuid]] if uuid in self._hosts else []
            return sample(hosts, 0, request, self.ratios, self.policy, 1)
        start = random.randrange(len(self._order)) if self._order else 0
        limit = self._settings.candidates
        return sample(self._order, start, request, self.ratios, self.policy, limit)

    def best(self, request: PlacementRequest) -> HostSnapshot | None:
        """The best of a bounded sample of feasible hosts (None: no host can take it)."""
        for round_ in self.rounds(request):
            return round_[0]
        return None

    def charge(self, host_uuid: str, cpu: float, memory: int, disk: int) -> None:
        """Count a claim not yet made (a batch's own choices), so that later choices of the
        batch see it; the host is re-read at the next refresh whatever becomes of it."""
        host = self._hosts.get(host_uuid)
        if host is not None:
            self._put(replace(host, cpu_used=host.cpu_used + cpu, mem_used=host.mem_used + memory,
                              disk_used=host.disk_used + disk))  # fmt: skip
        self._recheck.add(host_uuid)

    def claimed(self, host_uuid: str, usage: HostUsage) -> None:
        """Record a claim made here (it is re-read later, in case it is rolled back)."""
        host = self._hosts.get(host_uuid)
        if host is not None:
            self._put(replace(host, cpu_used=usage.cpu_used, mem_used=usage.mem_used,
                              disk_used=usage.disk_used))  # fmt: skip
        self._recheck.add(host_uuid)

    def update(self, state: HostState | None, host_uuid: str) -> None:
        """Replace one host's entry with what the database says now (None: it is gone)."""
        if state is None:
            self._remove(host_uuid)
        else:
            self._put(self._snapshot(state, utcnow() - self._down_after()))

    @property
    def down_after(self) -> float:
        return self._settings.host_down_after

    @property
    def candidate_limit(self) -> int:
        return self._settings.candidates

    def _down_after(self) -> timedelta:
        return timedelta(seconds=self._settings.host_down_after)

    async def _refresh(self, session: Session) -> None:
        now = utcnow()
        full = time.monotonic() - self._full_at >= FULL_EVERY or self._watermark is None
        since = None if full or self._watermark is None else self._watermark - SLACK
        recheck, self._recheck = self._recheck | self._moved, set()
        self._moved = set()
        try:
            states = await HostRepository(session).states(since, recheck)
        except BaseException:
            self._recheck |= recheck
            raise
        seen_since = now - self._down_after()
        if full:
            for gone in set(self._hosts) - {s.uuid for s in states}:
                self._remove(gone)
            self._full_at = time.monotonic()
        for state in states:
            self._put(self._snapshot(state, seen_since))
            if self._watermark is None or state.updated_at > self._watermark:
                self._watermark = state.updated_at
        self._watermark = self._watermark or now
        self._expire(seen_since)
        self._loaded_at = time.monotonic()

    async def _reread_moved(self, session: Session) -> None:
        """Only the hosts marked moved (the watermark stays: no other row was read)."""
        moved, self._moved = self._moved, set()
        try:
            states = await HostRepository(session).states_of(moved)
        except BaseException:
            self._moved |= moved
            raise
        seen_since = utcnow() - self._down_after()
        for state in states:
            self._put(self._snapshot(state, seen_since))
        for gone in moved - {s.uuid for s in states}:
            self._remove(gone)

    def _expire(self, seen_since: datetime) -> None:
        """Hosts whose last heartbeat is now too old are down (no row change says so)."""
        for uuid, seen in self._seen.items():
            if seen < seen_since and uuid not in self._down:
                self._down.add(uuid)
                self._put(replace(self._hosts[uuid], is_up=False))

    def _snapshot(self, state: HostState, seen_since: datetime) -> HostSnapshot:
        self._seen[state.uuid] = state.last_heartbeat_at
        return HostSnapshot(
            uuid=state.uuid, hostname=state.hostname, cpus=state.cpus,
            mem_total=state.mem_total, cpu_used=state.cpu_used, mem_used=state.mem_used,
            disk_total=state.disk_total, disk_used=state.disk_used,
            availability_zone=state.availability_zone, runtimes=tuple(state.runtimes),
            labels=dict(state.labels), is_up=state.last_heartbeat_at >= seen_since,
            disabled=state.disabled, forced_down=state.forced_down,
        )  # fmt: skip

    def _put(self, host: HostSnapshot) -> None:
        old = self._hosts.get(host.uuid)
        if old is not None and old.hostname != host.hostname:
            self._by_name.pop(old.hostname, None)
        self._hosts[host.uuid] = host
        self._by_name[host.hostname] = host.uuid
        if host.is_up and not host.forced_down:
            self._down.discard(host.uuid)
        else:
            self._down.add(host.uuid)
        if host.uuid in self._position:
            self._order[self._position[host.uuid]] = host
            return
        # A new host goes to a random place (one Fisher-Yates step keeps the order shuffled).
        self._order.append(host)
        last = len(self._order) - 1
        other = random.randint(0, last)
        self._order[last], self._order[other] = self._order[other], self._order[last]
        self._position[self._order[last].uuid] = last
        self._position[host.uuid] = other

    def _remove(self, host_uuid: str) -> None:
        host = self._hosts.pop(host_uuid, None)
        if host is None:
            return
        self._by_name.pop(host.hostname, None)
        self._seen.pop(host_uuid, None)
        self._down.discard(host_uuid)
        index = self._position.pop(host_uuid)
        last = self._order.pop()
        if last.uuid != host_uuid:
            self._order[index] = last
            self._position[last.uuid] = index
