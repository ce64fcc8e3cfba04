"""Convergence of one container: plan its steps, run them, report where it ended up."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dockyard import errors
from dockyard.agent.observed import EngineView
from dockyard.agent.reconcile import Step, addresses_of, may_start, plan, report_of
from dockyard.agent.reports import Reporter
from dockyard.agent.sandboxes import SandboxKeeper, Spawn, sandbox_report
from dockyard.agent.steps import EngineSteps
from dockyard.domain.containers import DesiredState, Status
from dockyard.schemas.agent import Assignment, ContainerReport, SandboxAssignment, SandboxReport

log = logging.getLogger(__name__)


class Converger:
    """Brings each wanted container to its assignment, at most `workers` at once.

    One container is converged by one task at a time; changes arriving meanwhile make that
    task go one more round (`kick`). `desired` and `desired_sandboxes` are the watch's
    (read, and updated where the engine's answer settles something: a container id, a
    removal); `view` is shared with the event pump and the full sync.
    """

    def __init__(
        self,
        desired: dict[str, Assignment],
        desired_sandboxes: dict[str, SandboxAssignment],
        view: EngineView,
        steps: EngineSteps,
        reporter: Reporter,
        spawn: Spawn,
        workers: int,
    ) -> None:
        self.desired = desired
        self.desired_sandboxes = desired_sandboxes
        self.view = view
        self.steps = steps
        self.sandboxes: SandboxKeeper = steps.sandboxes
        self.reporter = reporter
        self.spawn = spawn
        self._acknowledged: dict[str, int] = {}  # generation last reported as converged
        self._inflight: set[str] = set()
        self._again: set[str] = set()
        self._slots = asyncio.Semaphore(workers)

    @property
    def busy(self) -> bool:
        """Whether any container is being converged now."""
        return bool(self._inflight)

    def kick(self, uuid: str) -> None:
        """Converge uuid soon; changes arriving meanwhile trigger one more round."""
        if uuid in self._inflight:
            self._again.add(uuid)
            return
        self._inflight.add(uuid)
        self.spawn(self._converge_rounds(uuid))

    async def _converge_rounds(self, uuid: str) -> None:
        try:
            while True:
                self._again.discard(uuid)
                try:
                    await self.converge(uuid)
                except Exception:
                    log.exception("converging %s failed", uuid)
                if uuid not in self._again:
                    return
        finally:
            self._inflight.discard(uuid)

    async def converge(self, uuid: str) -> None:
        """One round: read back what is stale, run the planned steps, report.

        A worker slot covers the engine's part only: the report waits for the control
        plane, and a slot held meanwhile kept the next container of a burst from the
        engine (8 slots held by reports left the engine idle for most of a burst).
        """
        async with self._slots:
            done = await self._engine_round(uuid)
        if done is not None:
            desired, report, gated = done
            await self._settle(desired, report, gated=gated)

    async def _engine_round(self, uuid: str) -> tuple[Assignment, ContainerReport, bool] | None:
        """The engine's part of a round: its report, None if there is nothing to report."""
        desired = self.desired.get(uuid)
        if desired is None:
            return None
        refreshed = self.view.take_stale(uuid)
        if refreshed:
            await self.view.refresh(uuid)
        engine = self.view.get(uuid)
        pending = self._pending(desired)
        if engine is None and desired.container_id is None and not pending:
            return None  # a create that failed and was reported: retried on the next change
        steps = plan(
            desired, engine, pending=pending, resources_stale=self.view.resources_stale(desired)
        )
        if not steps and not refreshed and not pending:
            return None
        gated = Step.START in steps and not self._may_start(desired)
        if gated:  # capsule order: wait for the init containers before this one
            steps = [s for s in steps if s not in (Step.START, Step.PAUSE)]
        with self.view.steps_running(uuid):
            report = await self._execute(desired, steps)
        return desired, self._with_sandbox_view(desired, report, in_progress=gated), gated

    async def _settle(self, desired: Assignment, report: ContainerReport, *, gated: bool) -> None:
        """Send the report and keep what it settles; kick whoever waits on this container."""
        uuid = desired.uuid
        current = self.desired.get(uuid)
        if current is not None and report.container_id and not current.container_id:
            # Remember the engine id the control plane now has: if the container vanishes
            # later, that is a removal to report, not a create still to do.
            self.desired[uuid] = current.model_copy(update={"container_id": report.container_id})
        if await self.reporter.send([report], self._sandbox_news(desired)) and not gated:
            self._acknowledged[uuid] = report.generation
        if report.gone:
            self.desired.pop(uuid, None)
            self._acknowledged.pop(uuid, None)
            self.view.forget(uuid)
        if desired.container_type == "init" and desired.capsule_uuid:
            self._kick_capsule(desired.capsule_uuid, uuid)
        if self.view.is_stale(uuid) and uuid in self.desired:
            self.kick(uuid)  # a step left facts to read back (addresses, exit code)

    def _may_start(self, desired: Assignment) -> bool:
        siblings = [
            (a, self.view.get(a.uuid))
            for a in self.desired.values()
            if a.capsule_uuid == desired.capsule_uuid
        ]
        return may_start(desired, siblings) if desired.capsule_uuid else True

    def _kick_capsule(self, capsule_uuid: str, done: str) -> None:
        for other in list(self.desired.values()):
            if other.capsule_uuid == capsule_uuid and other.uuid != done:
                self.kick(other.uuid)

    def _with_sandbox_view(
        self, desired: Assignment, report: ContainerReport, *, in_progress: bool
    ) -> ContainerReport:
        """A joined container has no network of its own: show its sandbox's addresses."""
        update: dict[str, Any] = {"in_progress": in_progress} if in_progress else {}
        sandbox = self.sandboxes.engine.get(desired.sandbox.uuid) if desired.sandbox else None
        if sandbox is not None and not report.gone:
            update["addresses"] = addresses_of(sandbox.ip_addresses)
            update["hostname"] = sandbox.hostname or report.hostname
            # The engine keeps exposed ports on the namespace owner, so report the asked-for.
            update["ports"] = sorted({int(p.split("/")[0]) for p in desired.spec.exposed_ports})
        return report.model_copy(update=update) if update else report

    def _pending(self, desired: Assignment) -> bool:
        acknowledged = max(desired.observed_generation, self._acknowledged.get(desired.uuid, 0))
        return desired.generation > acknowledged

    async def _execute(self, desired: Assignment, steps: list[Step]) -> ContainerReport:
        """Run the steps; the report says where the container ended up (or why it failed)."""
        try:
            if steps[:2] == [Step.CREATE, Step.START]:
                steps = steps[2:] if await self.steps.create_started(desired) else steps[1:]
            for step in steps:
                await self.steps.do(desired, step)
            # What the steps left to read back (a start's address, a stop's exit code) is
            # read beside the plug, into this round's report: a second round would cost
            # another report and its transaction, and the plug takes longer anyway.
            await asyncio.gather(self.steps.plug(desired), self._read_back(desired.uuid))
        except errors.DockyardError as exc:
            return self._failure(desired, exc)
        engine = self.view.get(desired.uuid)
        if engine is None:
            return ContainerReport(uuid=desired.uuid, generation=desired.generation, gone=True)
        return report_of(desired, engine)

    async def _read_back(self, uuid: str) -> None:
        if self.view.take_stale(uuid):
            try:
                await self.view.refresh(uuid)
            except errors.DockyardError:
                self.view.mark_stale(uuid)  # the next round reads it again
                raise

    def _failure(self, desired: Assignment, exc: errors.DockyardError) -> ContainerReport:
        log.warning("container %s: %s", desired.uuid, exc.text)
        engine = self.view.get(desired.uuid)
        if engine is None or desired.desired_state == DesiredState.DELETED.value:
            return ContainerReport(
                uuid=desired.uuid,
                generation=desired.generation,
                status=Status.ERROR.value,
                status_reason=exc.text,
            )
        report = report_of(desired, engine)
        # A refused stop/pause leaves the container as it was: say why, keep its status.
        return report.model_copy(update={"status_reason": exc.text})

    def _sandbox_news(self, desired: Assignment) -> list[SandboxReport]:
        """The report of the sandbox this container's create set up: one request for both."""
        uuid = desired.sandbox.uuid if desired.sandbox else None
        if uuid is None or not self.steps.take_made_sandbox(uuid):
            return []
        wanted, engine = self.desired_sandboxes.get(uuid), self.sandboxes.engine.get(uuid)
        return [sandbox_report(wanted, engine)] if wanted and engine else []
