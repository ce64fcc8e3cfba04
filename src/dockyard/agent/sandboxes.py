"""The agent's sandboxes: a warm pool of ready infra containers, claimed on first use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine, Generator
from dataclasses import replace
from typing import Any

from dockyard import errors
from dockyard.agent.pooldemand import PoolDemand
from dockyard.agent.reconcile import addresses_of
from dockyard.runtime.base import ContainerRuntime, EngineSandbox
from dockyard.runtime.specs import SandboxSpec
from dockyard.schemas.agent import SandboxAssignment, SandboxRef, SandboxReport

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], None]

QUIET_POLL = 0.05  # seconds between looks at whether the agent is still converging
QUIET_LONGEST = 2.0  # a refill waits at most this long for a quiet moment


class SandboxKeeper:
    """Keeps free sandboxes warm and turns them into tenants' sandboxes.

    A new sandbox costs the engine's network set-up (≈150–300 ms); claiming a warm one is
    a rename, which runs beside the create of the container that joins it (`reserve`), so
    a pooled create waits for no engine call more than a standalone one. Free pool
    sandboxes carry no tenant data.

    How many are kept warm follows demand (PoolDemand): at least `pool_size`, after a
    burst as many as the burst asked for (at most `pool_max`), shrinking slowly when idle;
    a `pool_size` of 0 turns the pool off.

    A refill waits for a moment when `busy()` (containers being converged) is false: the
    engine serialises much of its work, so a refill made beside a create delays that create
    (a user waiting for a container would pay for the next user's sandbox).
    """

    def __init__(
        self,
        runtime: ContainerRuntime,
        pool_size: int,
        spawn: Spawn,
        busy: Callable[[], bool] = lambda: False,
        pool_max: int | None = None,
        demand: PoolDemand | None = None,
    ) -> None:
        self.runtime = runtime
        ceiling = pool_size if pool_max is None or pool_size == 0 else pool_max
        self.demand = demand or PoolDemand(pool_size, ceiling)
        self.spawn = spawn
        self.busy = busy
        self.host = ""
        self.engine: dict[str, EngineSandbox] = {}  # by sandbox uuid
        self.free: list[EngineSandbox] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._claims: dict[str, asyncio.Task[EngineSandbox]] = {}  # by sandbox uuid
        self._claim_ids: dict[str, str] = {}  # engine id of each claim under way
        self._refilling = False
        self._removing: set[str] = set()  # engine ids whose removal is under way
        self._told = -1  # the target last logged
        # False once the host carries tenant networks: pool sandboxes are then made without
        # an engine network (their ports are plugged in at hand-out), and those left from
        # before are replaced, so no tenant ever sits on the engine's shared bridge.
        self.pool_engine_network = True
        # Sandbox uuids and engine ids handed out while a sync is under way: its listing and
        # its `desired`/`in_use` may predate them, so it must neither call them orphans nor
        # free (removing a sandbox removes the container that just joined it).
        self._handed_out: set[str] | None = None

    @property
    def target(self) -> int:
        """Free sandboxes the pool aims to hold now (logged when it changes)."""
        target = self.demand.target()
        if target != self._told:
            log.info("warm pool target %d (free %d)", target, len(self.free))
            self._told = target
        return target

    async def prepare(self, host: str) -> None:
        """Build the infra image if it is missing (before the first sandbox is needed)."""
        self.host = host
        await asyncio.to_thread(self.runtime.ensure_pause_image)

    async def sync(
        self,
        desired: dict[str, SandboxAssignment],
        in_use: set[str],
        joined: dict[str, str] | None = None,
    ) -> None:
        """Adopt the host's sandboxes; remove the ones nobody wants; top up the pool.

        `joined` maps engine ids of sandboxes to the sandbox uuid a listed container names:
        a free pool sandbox a container joined is one whose claim a crash interrupted
        (the claim runs beside the create); the claim is finished now, never handed out.
        """
        # Claims under way before the listing, and whatever is handed out from now on.
        self._handed_out = recent = set(self._claim_ids.values())
        try:
            listed = await asyncio.to_thread(self.runtime.list_sandboxes, self.host)
            listed = await self._finish_claims(listed, joined or {}, recent)
            # No await from here on, so `recent` is complete for the decisions below.
            recent |= set(self._claim_ids.values()) | set(self._claim_ids)
        finally:
            self._handed_out = None
        fresh = {u: s for u, s in self.engine.items() if u in recent}
        self.engine = {s.uuid: s for s in listed if s.uuid is not None} | fresh
        free = [s for s in listed if s.pooled and s.state == "running" and s.id not in recent]
        stale = [s for s in listed if s.pooled and not self._fits(s) and s.id not in recent]
        free = [s for s in free if self._fits(s)]
        target = self.target
        self.free, surplus = free[:target], free[target:]
        orphans = [
            s
            for u, s in self.engine.items()
            if u not in desired and u not in in_use and u not in recent and s.id not in recent
        ]
        for sandbox in [*stale, *surplus, *orphans]:
            log.info("removing unused sandbox %s", sandbox.id[:12])
            self.engine.pop(sandbox.uuid or "", None)
            self._removing.add(sandbox.id)  # now: a refill under way must not hand it out
            self.spawn(self._remove_engine(sandbox.id))
        self.refill()

    def _usable(self, sandbox: EngineSandbox) -> bool:
        """Running, or being made by the refill now (created, its start still to come)."""
        return sandbox.state == "running" or (self._refilling and sandbox.state == "created")

    def _fits(self, sandbox: EngineSandbox) -> bool:
        """Usable, and with an engine network exactly when the pool's should have one (a
        running sandbox without one has no address)."""
        if sandbox.state != "running":
            return self._usable(sandbox)
        return bool(sandbox.ip_addresses) == self.pool_engine_network

    async def _finish_claims(
        self, listed: list[EngineSandbox], joined: dict[str, str], claiming: set[str]
    ) -> list[EngineSandbox]:
        """Claim each free pool sandbox a container joined for that container's sandbox."""
        done = []
        for sandbox in listed:
            uuid = joined.get(sandbox.id)
            if (
                not sandbox.pooled
                or uuid is None
                or sandbox.id in claiming
                or (sandbox.id in self._claim_ids.values())
            ):
                done.append(sandbox)
                continue
            log.info("finishing the claim of pool sandbox %s for %s", sandbox.id[:12], uuid)
            try:
                await asyncio.to_thread(self.runtime.claim_pooled, sandbox.id, uuid)
                done.append(replace(sandbox, uuid=uuid, pooled=False))
            except (errors.RuntimeConflict, errors.RuntimeNotFound):
                done.extend(await self._claimed_or_removed(sandbox.id, uuid))
        return done

    async def _claimed_or_removed(self, engine_id: str, uuid: str) -> list[EngineSandbox]:
        """The sandbox if it is uuid's after all; else it goes, with what joined it."""
        with contextlib.suppress(errors.RuntimeNotFound):
            now = await asyncio.to_thread(self.runtime.inspect_sandbox, engine_id)
            if now.uuid == uuid:
                return [now]
        await self._remove_engine(engine_id)
        return []

    async def ensure(
        self, ref: SandboxRef, project_id: str, engine_network: bool = True
    ) -> EngineSandbox:
        """The running sandbox `ref` (claimed from the pool, or made now if none is free)."""
        reservation = await self.reserve(ref, project_id, engine_network)
        return await reservation

    async def reserve(
        self, ref: SandboxRef, project_id: str, engine_network: bool = True
    ) -> Reservation:
        """The sandbox's engine id now, its claim (if from the pool) still under way.

        A container may be created joined to the id at once; it may start only after the
        reservation was awaited (the claim is what makes the sandbox the tenant's).
        """
        lock = self._locks.setdefault(ref.uuid, asyncio.Lock())
        async with lock:
            if self._handed_out is not None:
                self._handed_out.add(ref.uuid)
            claim = self._claims.get(ref.uuid)
            if claim is not None:
                return Reservation(self._claim_ids[ref.uuid], claim)
            known = self.engine.get(ref.uuid)
            if known is not None and known.state == "running":
                return Reservation(known.id, None, known)
            if known is not None:
                await asyncio.to_thread(self.runtime.start, known.id)
                found = await self._remember(ref.uuid)
                return Reservation(found.id, None, found)
            self.demand.asked()
            pooled = self._take_free(engine_network) if ref.hostname is None else None
            if pooled is not None:
                return self._start_claim(ref.uuid, pooled)
            spec = SandboxSpec(uuid=ref.uuid, host=self.host, hostname=ref.hostname,
                               project_id=project_id, engine_network=engine_network)  # fmt: skip
            await asyncio.to_thread(self.runtime.create_sandbox, spec)
            self.refill()  # demand grew: the pool may have to as well
            made = await self._remember(ref.uuid)
            return Reservation(made.id, None, made)

    def _take_free(self, engine_network: bool) -> EngineSandbox | None:
        """A free pool sandbox with (or without) an engine network, as the tenant needs."""
        for index, sandbox in enumerate(self.free):
            if bool(sandbox.ip_addresses) == engine_network:
                return self.free.pop(index)
        return None

    def use_engine_network(self, wanted: bool) -> None:
        """Make the pool's sandboxes with an engine network or without one from now on;
        free ones of the other kind go at once (none is handed out any more)."""
        if wanted == self.pool_engine_network:
            return
        self.pool_engine_network = wanted
        unfit = [s for s in self.free if not self._fits(s)]
        self.free = [s for s in self.free if self._fits(s)]
        for sandbox in unfit:
            self._removing.add(sandbox.id)
            self.spawn(self._remove_engine(sandbox.id))
        self.refill()

    def _start_claim(self, uuid: str, pooled: EngineSandbox) -> Reservation:
        if self._handed_out is not None:
            self._handed_out.add(pooled.id)
        renamed = RenameGate()
        task = asyncio.create_task(self._claim(uuid, pooled, renamed))
        self._claims[uuid] = task
        self._claim_ids[uuid] = pooled.id
        self.refill()
        return Reservation(pooled.id, task, renamed=renamed)

    async def _claim(self, uuid: str, pooled: EngineSandbox, renamed: RenameGate) -> EngineSandbox:
        """Rename the pool sandbox; RuntimeConflict if it turned out to be unusable."""
        try:
            await asyncio.to_thread(_rename, self.runtime, pooled.id, uuid, renamed)
            claimed = replace(pooled, uuid=uuid, pooled=False, state="running")
            self.engine[uuid] = claimed
            return claimed
        except errors.RuntimeNotFound as exc:
            raise errors.RuntimeConflict(reason=f"pool sandbox vanished: {exc.text}") from exc
        finally:
            self._claims.pop(uuid, None)
            self._claim_ids.pop(uuid, None)

    def cancel_claims(self) -> None:
        """Stop waiting for claims under way (the agent stops; a sync finishes them)."""
        for task in list(self._claims.values()):
            task.cancel()

    async def _remember(self, uuid: str) -> EngineSandbox:
        found = await asyncio.to_thread(self.runtime.find_sandbox, uuid)
        if found is None:
            raise errors.RuntimeFailure(reason=f"sandbox {uuid} vanished right after its start")
        self.engine[uuid] = found
        return found

    async def remove(self, desired: SandboxAssignment) -> SandboxReport:
        """Remove the sandbox and the volumes that go with it; the report says it is gone."""
        lock = self._locks.setdefault(desired.uuid, asyncio.Lock())
        async with lock:
            claim = self._claims.get(desired.uuid)
            if claim is not None:  # let it finish, so the engine name says whose it is
                with contextlib.suppress(errors.DockyardError):
                    await claim
            known = self.engine.pop(desired.uuid, None)
            if known is None:
                known = await asyncio.to_thread(self.runtime.find_sandbox, desired.uuid)
            if known is not None:
                await asyncio.to_thread(self.runtime.remove_sandbox, known.id)
            for volume in desired.volumes:
                await asyncio.to_thread(self.runtime.remove_volume, volume)
        self._locks.pop(desired.uuid, None)
        return SandboxReport(uuid=desired.uuid, generation=desired.generation, gone=True)

    def refill(self) -> None:
        """Top the pool up, or trim it, in the background (one at a time)."""
        if self._refilling or len(self.free) == self.target:
            return
        self._refilling = True
        self.spawn(self._refill())

    async def _refill(self) -> None:
        try:
            while len(self.free) != self.target:
                await self._quiet()
                if len(self.free) > self.target:  # demand fell: give one back
                    await self._remove_engine(self.free.pop().id)
                elif not await self._make_one():
                    break
        except errors.DockyardError as exc:
            log.warning("pool refill failed: %s", exc.text)
        finally:
            self._refilling = False

    async def _make_one(self) -> bool:
        spec = SandboxSpec(
            uuid=None, host=self.host, pool=True, engine_network=self.pool_engine_network
        )
        engine_id = await asyncio.to_thread(self.runtime.create_sandbox, spec)
        listed = await asyncio.to_thread(self.runtime.list_sandboxes, self.host)
        ready = next((s for s in listed if s.id == engine_id and s.pooled), None)
        if ready is None or engine_id in self._removing:
            return False  # a sync that listed it half-made took it away meanwhile
        if all(s.id != engine_id for s in self.free):  # a sync may have listed it already
            self.free.append(ready)
        return True

    async def _quiet(self) -> None:
        """Until nothing is converging, or QUIET_LONGEST (a steady stream must not starve it)."""
        deadline = asyncio.get_running_loop().time() + QUIET_LONGEST
        while self.busy() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(QUIET_POLL)

    async def _remove_engine(self, engine_id: str) -> None:
        self._removing.add(engine_id)
        try:
            with contextlib.suppress(errors.DockyardError):
                await asyncio.to_thread(self.runtime.remove_sandbox, engine_id)
        finally:
            self._removing.discard(engine_id)


class RenameGate:
    """Whether a pool sandbox's claim went through, for an engine thread to wait on: the
    container's create and start run in one engine job, which may start the container once
    the engine has renamed its sandbox (the claim's asyncio side may not have run yet)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._ok = False

    def finish(self, ok: bool) -> None:
        self._ok = ok
        self._done.set()

    def passed(self, timeout: float) -> bool:
        """True once the rename succeeded; False if it failed or took longer than timeout."""
        return self._done.wait(timeout) and self._ok


def _rename(runtime: ContainerRuntime, engine_id: str, uuid: str, gate: RenameGate) -> None:
    ok = False
    try:
        runtime.claim_pooled(engine_id, uuid)
        ok = True
    finally:
        gate.finish(ok)


class Reservation:
    """A sandbox's engine id, and (awaiting it) the sandbox once its claim is done."""

    def __init__(
        self,
        engine_id: str,
        claim: asyncio.Task[EngineSandbox] | None,
        ready: EngineSandbox | None = None,
        renamed: RenameGate | None = None,
    ) -> None:
        self.engine_id = engine_id
        self.claim = claim
        self.ready = ready
        self.renamed = renamed  # a pool claim's gate; None: nothing to wait for

    @property
    def pooled(self) -> bool:
        """True while the sandbox comes from the pool (its claim may still fail)."""
        return self.claim is not None

    def __await__(self) -> Generator[Any, None, EngineSandbox]:
        if self.claim is None:
            if self.ready is None:
                raise RuntimeError("a pending claim without a claim task or a sandbox")
            return self.ready
        return (yield from asyncio.shield(self.claim).__await__())


def sandbox_report(desired: SandboxAssignment, engine: EngineSandbox) -> SandboxReport:
    status = "Running" if engine.state == "running" else "Stopped"
    return SandboxReport(
        uuid=desired.uuid,
        generation=desired.generation,
        status=status,
        container_id=engine.id,
        addresses=addresses_of(engine.ip_addresses),
    )
