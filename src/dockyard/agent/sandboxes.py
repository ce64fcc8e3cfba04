"""The agent's sandboxes: a warm pool of ready infra containers, claimed on first use."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from dockyard import errors
from dockyard.agent.reconcile import addresses_of
from dockyard.runtime.base import ContainerRuntime, EngineSandbox, SandboxSpec
from dockyard.schemas.agent import SandboxAssignment, SandboxRef, SandboxReport

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None]], None]

QUIET_POLL = 0.05  # seconds between looks at whether the agent is still converging
QUIET_LONGEST = 2.0  # a refill waits at most this long for a quiet moment


class SandboxKeeper:
    """Keeps `pool_size` free sandboxes warm and turns them into tenants' sandboxes.

    A new sandbox costs the engine's network set-up (≈150–300 ms); claiming a warm one is
    a rename. The pool is refilled in the background after each claim, so that cost is
    paid ahead of time. Free pool sandboxes carry no tenant data.

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
    ) -> None:
        self.runtime = runtime
        self.pool_size = pool_size
        self.spawn = spawn
        self.busy = busy
        self.host = ""
        self.engine: dict[str, EngineSandbox] = {}  # by sandbox uuid
        self.free: list[EngineSandbox] = []
        self._locks: dict[str, asyncio.Lock] = {}
        self._refilling = False

    async def prepare(self, host: str) -> None:
        """Build the infra image if it is missing (before the first sandbox is needed)."""
        self.host = host
        await asyncio.to_thread(self.runtime.ensure_pause_image)

    async def sync(self, desired: dict[str, SandboxAssignment], in_use: set[str]) -> None:
        """Adopt the host's sandboxes; remove the ones nobody wants; top up the pool."""
        listed = await asyncio.to_thread(self.runtime.list_sandboxes, self.host)
        self.engine = {s.uuid: s for s in listed if s.uuid is not None}
        free = [s for s in listed if s.pooled and s.state == "running"]
        stale = [s for s in listed if s.pooled and s.state != "running"]
        self.free, surplus = free[: self.pool_size], free[self.pool_size :]
        orphans = [s for u, s in self.engine.items() if u not in desired and u not in in_use]
        for sandbox in [*stale, *surplus, *orphans]:
            log.info("removing unused sandbox %s", sandbox.id[:12])
            self.engine.pop(sandbox.uuid or "", None)
            self.spawn(self._remove_engine(sandbox.id))
        self.refill()

    async def ensure(self, ref: SandboxRef, project_id: str) -> EngineSandbox:
        """The running sandbox `ref` (claimed from the pool, or made now if none is free)."""
        lock = self._locks.setdefault(ref.uuid, asyncio.Lock())
        async with lock:
            known = self.engine.get(ref.uuid)
            if known is not None and known.state == "running":
                return known
            if known is not None:
                await asyncio.to_thread(self.runtime.start, known.id)
                return await self._remember(ref.uuid)
            claimed = await self._claim(ref) if ref.hostname is None else None
            if claimed is not None:
                return claimed
            spec = SandboxSpec(uuid=ref.uuid, host=self.host, hostname=ref.hostname,
                               project_id=project_id)  # fmt: skip
            await asyncio.to_thread(self.runtime.create_sandbox, spec)
            return await self._remember(ref.uuid)

    async def _claim(self, ref: SandboxRef) -> EngineSandbox | None:
        while self.free:
            pooled = self.free.pop(0)
            try:
                await asyncio.to_thread(self.runtime.claim_pooled, pooled.id, ref.uuid)
            except (errors.RuntimeConflict, errors.RuntimeNotFound) as exc:
                log.info("pool sandbox %s unusable (%s)", pooled.id[:12], exc.text)
                continue
            finally:
                self.refill()
            claimed = EngineSandbox(
                id=pooled.id, uuid=ref.uuid, pooled=False, state="running",
                ip_addresses=pooled.ip_addresses, hostname=pooled.hostname,
                started_at=pooled.started_at,
            )  # fmt: skip
            self.engine[ref.uuid] = claimed
            return claimed
        return None

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
        """Top the pool up in the background (one refill at a time)."""
        if self._refilling or len(self.free) >= self.pool_size:
            return
        self._refilling = True
        self.spawn(self._refill())

    async def _refill(self) -> None:
        try:
            while len(self.free) < self.pool_size:
                await self._quiet()
                spec = SandboxSpec(uuid=None, host=self.host, pool=True)
                engine_id = await asyncio.to_thread(self.runtime.create_sandbox, spec)
                listed = await asyncio.to_thread(self.runtime.list_sandboxes, self.host)
                ready = next((s for s in listed if s.id == engine_id and s.pooled), None)
                if ready is None:
                    break
                self.free.append(ready)
        except errors.DockyardError as exc:
            log.warning("pool refill failed: %s", exc.text)
        finally:
            self._refilling = False

    async def _quiet(self) -> None:
        """Until nothing is converging, or QUIET_LONGEST (a steady stream must not starve it)."""
        deadline = asyncio.get_running_loop().time() + QUIET_LONGEST
        while self.busy() and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(QUIET_POLL)

    async def _remove_engine(self, engine_id: str) -> None:
        with contextlib.suppress(errors.DockyardError):
            await asyncio.to_thread(self.runtime.remove_sandbox, engine_id)


def sandbox_report(desired: SandboxAssignment, engine: EngineSandbox) -> SandboxReport:
    status = "Running" if engine.state == "running" else "Stopped"
    return SandboxReport(
        uuid=desired.uuid,
        generation=desired.generation,
        status=status,
        container_id=engine.id,
        addresses=addresses_of(engine.ip_addresses),
    )
