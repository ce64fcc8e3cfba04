"""The scheduler loop: takes pending containers in batches, chooses hosts in memory, claims
them in bulk, and assigns or fails the batch in one transaction.

Creates only insert the row (Creating, no host, quota charged) and wake the schedulers:
this replica's at commit, the others' through the change feed. Every replica with the
scheduler enabled runs one loop; SKIP LOCKED (PostgreSQL) gives concurrent loops disjoint
batches, BEGIN IMMEDIATE (SQLite) makes a batch exclusive. A claim is one conditional
UPDATE over all the batch's hosts, so the in-memory choice may be stale but never
over-commits a host: a host whose claim failed is re-read and its containers wait for the
next batch, which runs at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import NamedTuple

from dockyard.background import cancel_and_wait
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.hosts import Claim, HostRepository, HostUsage
from dockyard.db.repositories.pending import (
    PendingContainer,
    PendingRepository,
    PendingSandbox,
    Placement,
)
from dockyard.db.tables import utcnow
from dockyard.domain.quotas import Usage
from dockyard.scheduler.filters import PlacementRequest
from dockyard.services import quotas
from dockyard.services.actions import record_host_outcome
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.scheduling import NO_HOST_REASON
from dockyard.services.signals import Pulse
from dockyard.settings import SchedulerSettings

log = logging.getLogger(__name__)

# Without a wake-up, look anyway this often: a replica that died mid-batch left its batch
# pending (rolled back), and nobody else may create anything soon.
IDLE_LOOK = 5.0
# Under a stream of creates, at least this long between the end of a look and the next.
BUSY_GAP = 0.02
# A batch that could place nothing (its sandboxes are being placed elsewhere): look again soon.
DEFERRED_PAUSE = 0.02


@dataclass
class Unit:
    """Containers placed together on one host: one container, or a new sandbox with all its
    pending members (a capsule is all-or-nothing)."""

    rows: list[PendingContainer]
    sandbox: PendingSandbox | None  # a sandbox placed (and charged) with the rows
    request: PlacementRequest

    @property
    def want(self) -> tuple[float, int, int]:
        return self.request.cpu, self.request.memory, self.request.disk

    def add(self, row: PendingContainer) -> None:
        """Another member of the unit's sandbox: placed with the others, on their host."""
        self.rows.append(row)
        spec, was = row.spec, self.request
        self.request = replace(was, cpu=was.cpu + spec.cpu, memory=was.memory + spec.memory,
                               disk=was.disk + spec.disk,
                               volume_host=was.volume_host or spec.volume_host)  # fmt: skip


class HostChoice(NamedTuple):
    """A host claimed for a create in its own transaction (Scheduler.place_now)."""

    host_uuid: str
    usage: HostUsage


@dataclass
class BatchResult:
    taken: int = 0
    placed: int = 0
    failed: int = 0  # no host can take them: Error
    deferred: int = 0  # left pending for the next batch

    def __add__(self, other: BatchResult) -> BatchResult:
        return BatchResult(self.taken + other.taken, self.placed + other.placed,
                           self.failed + other.failed, self.deferred + other.deferred)  # fmt: skip


@dataclass
class _Plan:
    by_host: dict[str, list[Unit]] = field(default_factory=lambda: defaultdict(list))
    no_host: list[Unit] = field(default_factory=list)


class Scheduler:
    """One replica's scheduler loop (see the module docstring)."""

    def __init__(
        self, sessions: Sessions, settings: SchedulerSettings, directory: HostDirectory,
        pulse: Pulse,
    ) -> None:  # fmt: skip
        self._sessions = sessions
        self._settings = settings
        self._directory = directory
        self._pulse = pulse
        self._task: asyncio.Task[None] | None = None
        self._one_at_a_time = asyncio.Lock()  # the loop's batches and drain()'s take turns

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dockyard-scheduler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def drain(self) -> BatchResult:
        """Run batches until nothing pending is left that this replica could take."""
        total = BatchResult()
        while True:
            result = await self.batch()
            total += result
            if result.taken < self._settings.batch_size and not result.deferred:
                return total
            if not (result.placed or result.failed):
                await asyncio.sleep(DEFERRED_PAUSE)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            seen = self._pulse.version  # before looking: a wake-up meanwhile is not missed
            try:
                await self.drain()
            except Exception:  # a lost database, a deadlock victim: the batch rolled back
                log.exception("scheduler batch failed; retrying")
                await asyncio.sleep(0.5)
                continue
            done = loop.time()
            await self._pulse.wait(seen, IDLE_LOOK)
            # Woken at once after a quiet spell (a single create is placed without delay);
            # under a stream of creates, batches gather what came meanwhile instead of
            # running one transaction per create.
            await asyncio.sleep(max(0.0, done + BUSY_GAP - loop.time()))

    @property
    def is_running(self) -> bool:
        """Whether this replica's loop runs (stopped, or disabled: other replicas place)."""
        return self._task is not None and not self._task.done()

    async def place_now(
        self, session: Session, row: PendingContainer, sandbox: PendingSandbox | None
    ) -> HostChoice | None:
        """Place one new container (with the new sandbox made for it, or in its placed one:
        never one still pending, whose members go together) inside the create's own
        transaction, when the index names a host and its claim holds: the create then needs
        no batch transaction and no wake-up of the loop before its agent hears of it. None
        leaves it pending for the loop (whose batch also fails it if no host can take it,
        after a second look on a fresh index); then the caller wakes it.

        Only while this replica's loop runs (a stopped loop means no placing here) and is
        not in a batch: the batch holds the batch lock while waiting for the write turn,
        which this caller holds. Claims stay conditional UPDATEs, so a stale index never
        over-commits a host. It never waits for a host row (PostgreSQL): the create holds
        its network's locks, and writers that lock several hosts (a host's networks
        recorded, other hosts woken) would close cycles with it. The caller claims before
        it charges the quota: host rows before quota rows, as reports and resizes do."""
        if not self.is_running or self._one_at_a_time.locked():
            return None
        if sandbox is not None and sandbox.host_uuid is not None:
            unit = _unit([row], None, sandbox.host_uuid)  # joins a placed sandbox: its host
        else:
            unit = _unit([row], sandbox, None)  # a new sandbox (the caller's) goes with it
        directory = self._directory
        await directory.fresh(session, placing=True)
        host = directory.best(unit.request)
        if host is None:
            return None
        ratios = directory.ratios
        cpu, memory, disk = unit.want
        want = Claim(float(cpu), int(memory), int(disk), ratios.cpu, ratios.ram, ratios.disk)
        seen_since = utcnow() - timedelta(seconds=self._settings.host_down_after)
        hosts = HostRepository(session)
        if not await hosts.lock_if_free(host.uuid):  # busy: the loop places it, waiting there
            return None
        usage = await hosts.claim(host.uuid, want, seen_since)
        if usage is None:  # the index was stale about this host: re-read it before long
            directory.invalidate()
            return None
        # Not charged in the index: the claim's commit marks the host moved (change feed),
        # and a rolled-back one leaves nothing to undo.
        return HostChoice(host.uuid, usage)

    async def batch(self) -> BatchResult:
        """Place (or fail) one batch of pending containers in one transaction."""
        async with self._one_at_a_time:
            try:
                return await self._batch()
            except BaseException:
                self._directory.invalidate()  # it counted claims that were rolled back
                raise

    async def _batch(self) -> BatchResult:
        async with transaction(self._sessions) as session:
            pending = PendingRepository(session)
            rows = await pending.take(self._settings.batch_size)
            if not rows:
                return BatchResult()
            units, deferred = await _units(pending, rows)
            plan = await self._choose(session, units)
            placed, lost = await self._claim(session, pending, plan)
            if lost:  # the index was stale, so "no host" may be wrong too: look again
                deferred += sum(len(u.rows) for u in plan.no_host)
                plan.no_host = []
            await _fail(session, pending, plan.no_host)
        for host_uuid, usage in placed.items():
            self._directory.claimed(host_uuid, usage)
        if lost:  # the index was wrong about these hosts: re-read before the next batch
            self._directory.invalidate()
        done = sum(len(u.rows) for units_ in plan.by_host.values() for u in units_)
        retry = sum(len(u.rows) for h in lost for u in plan.by_host[h])
        failed = sum(len(u.rows) for u in plan.no_host)
        return BatchResult(len(rows), done - retry, failed, deferred + retry)

    async def _choose(self, session: Session, units: Sequence[Unit]) -> _Plan:
        """Each unit's host from the index, counting the batch's own choices; units no
        host takes get a second look on a freshly re-read index (a host registered on
        another replica a moment ago)."""
        directory = self._directory
        await directory.fresh(session, placing=True)  # every claim committed so far counts
        plan = _Plan()
        for unit in units:
            self._choose_one(plan, unit)
        if plan.no_host:
            await directory.fresh(session, force=True)
            for host_uuid, chosen in plan.by_host.items():  # the re-read forgot them
                for unit in chosen:
                    directory.charge(host_uuid, *unit.want)
            again, plan.no_host = plan.no_host, []
            for unit in again:
                self._choose_one(plan, unit)
        return plan

    def _choose_one(self, plan: _Plan, unit: Unit) -> None:
        host = self._directory.best(unit.request)
        if host is None:
            plan.no_host.append(unit)
            return
        plan.by_host[host.uuid].append(unit)
        self._directory.charge(host.uuid, *unit.want)

    async def _claim(
        self, session: Session, pending: PendingRepository, plan: _Plan
    ) -> tuple[dict[str, HostUsage], list[str]]:
        """Claim every chosen host's total at once; assign the units of the hosts that held."""
        ratios = self._directory.ratios
        wants = {}
        for host_uuid, units in plan.by_host.items():
            cpu, memory, disk = (sum(x) for x in zip(*(u.want for u in units), strict=True))
            wants[host_uuid] = Claim(float(cpu), int(memory), int(disk),
                                     ratios.cpu, ratios.ram, ratios.disk)  # fmt: skip
        seen_since = utcnow() - timedelta(seconds=self._settings.host_down_after)
        usages = await pending.claim_many(wants, seen_since)
        rows, sandboxes = [], []
        for host_uuid, usage in usages.items():
            for unit in plan.by_host[host_uuid]:
                rows += [Placement(r.uuid, host_uuid, usage.revision) for r in unit.rows]
                if unit.sandbox is not None:
                    sandboxes.append(Placement(unit.sandbox.uuid, host_uuid, usage.revision))
        await pending.assign_sandboxes(sandboxes)
        await pending.assign(rows)
        lost = [h for h in plan.by_host if h not in usages]
        return usages, lost


async def _units(
    pending: PendingRepository, rows: Sequence[PendingContainer]
) -> tuple[list[Unit], int]:
    """The batch grouped into units, oldest first, and how many rows must wait: members of
    an unplaced sandbox whose other pending members another batch holds."""
    sandboxes = await pending.sandboxes({r.sandbox_uuid for r in rows if r.sandbox_uuid})
    unplaced = [s for s in sandboxes.values() if s.host_uuid is None]
    held = Counter(r.sandbox_uuid for r in rows)
    waiting = await pending.pending_members([s.uuid for s in unplaced]) if unplaced else {}
    units: list[Unit] = []
    grouped: dict[str, Unit] = {}
    deferred = 0
    for row in rows:
        sandbox = sandboxes.get(row.sandbox_uuid or "")
        if sandbox is None or sandbox.host_uuid is not None:
            units.append(_unit([row], None, sandbox.host_uuid if sandbox else None))
        elif waiting.get(sandbox.uuid, 0) > held[sandbox.uuid]:
            deferred += 1
        elif sandbox.uuid in grouped:
            grouped[sandbox.uuid].add(row)
        else:
            grouped[sandbox.uuid] = _unit([row], sandbox, None)
            units.append(grouped[sandbox.uuid])
    return units, deferred


def _unit(rows: list[PendingContainer], sandbox: PendingSandbox | None, host: str | None) -> Unit:
    first = rows[0].spec
    request = PlacementRequest(
        cpu=sum(r.spec.cpu for r in rows) + (sandbox.cpu if sandbox else 0.0),
        memory=sum(r.spec.memory for r in rows) + (sandbox.memory if sandbox else 0),
        disk=sum(r.spec.disk for r in rows),
        availability_zone=first.availability_zone,
        runtime=first.runtime,
        hints=dict(first.hints),
        # A container joining a placed sandbox goes to the sandbox's host.
        requested_host=host if host is not None else first.requested_host,
        # Members of one capsule share its volumes, so any member's volume host is theirs.
        volume_host=next((r.spec.volume_host for r in rows if r.spec.volume_host), None),
    )
    return Unit(rows, sandbox, request)


async def _fail(session: Session, pending: PendingRepository, units: Sequence[Unit]) -> None:
    """No host can take these units: Error, as in Zun, and their quota is given back."""
    if not units:
        return
    rows = [r for u in units for r in u.rows]
    sandboxes = [u.sandbox.uuid for u in units if u.sandbox is not None]
    await pending.fail([r.uuid for r in rows], sandboxes, NO_HOST_REASON)
    await record_host_outcome(session, [r.uuid for r in rows], NO_HOST_REASON, "scheduler")
    charges: dict[str, Usage] = defaultdict(Usage)
    for row in rows:
        charges[row.project_id] += quotas.usage_of(row)
    for project_id in sorted(charges):  # quota rows last, in one order (no deadlock)
        await quotas.release(session, project_id, charges[project_id])
