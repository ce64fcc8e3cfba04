"""The agent: register, heartbeat, watch assignments, converge the engine, report."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_incrementing,
)

from dockyard import errors
from dockyard.agent.membership import Membership
from dockyard.agent.reconcile import (
    Step,
    addresses_of,
    event_is_news,
    may_start,
    plan,
    report_of,
)
from dockyard.agent.sandboxes import SandboxKeeper, sandbox_report
from dockyard.agent.steps import EngineSteps
from dockyard.client.agent import AgentClient, CredentialRefused, HostGone
from dockyard.domain.containers import DesiredState, Status
from dockyard.runtime.base import LABEL_SANDBOX, ContainerRuntime, EngineContainer, HostInfo
from dockyard.schemas.agent import (
    Assignment,
    AssignmentBatch,
    ContainerReport,
    HostRegistration,
    SandboxAssignment,
    SandboxReport,
)

log = logging.getLogger(__name__)

# Engine events that can change what we report; exec_* and friends are noise.
_RELEVANT_EVENTS = frozenset(
    {"create", "start", "die", "stop", "pause", "unpause", "destroy", "restart", "oom",
     "update", "health_status"}
)  # fmt: skip


@dataclass
class AgentConfig:
    hostname: str
    agent_url: str  # where the control plane reaches this agent's host API
    agent_token: str  # secret the control plane presents to the host API (per host, random)
    heartbeat_interval: float = 5.0
    resync_interval: float = 30.0
    watch_timeout: float = 20.0
    workers: int = 8
    pool_size: int = 2  # the warm pool's floor
    pool_max: int = 32  # how far demand may grow it
    availability_zone: str = "nova"
    labels: dict[str, str] = field(default_factory=dict)
    # Hollow hosts skip the engine event stream: it costs a thread per host. Their state is
    # read back after every step and by the periodic resync instead.
    follow_events: bool = True


class Agent:
    """Converges one host's engine to the control plane's desired state.

    Knowledge is kept in two maps: `desired` (the latest assignment per container) and
    `engine` (the last observation per container, refreshed by engine events and resyncs),
    so the hot path — a new assignment — costs exactly the engine calls it needs.
    """

    def __init__(
        self,
        config: AgentConfig,
        runtime: ContainerRuntime,
        client: AgentClient,
        membership: Membership,
    ) -> None:
        self.config = config
        self.runtime = runtime
        self.client = client
        self.membership = membership
        self.host_uuid: str | None = None
        self.desired: dict[str, Assignment] = {}
        self.engine: dict[str, EngineContainer] = {}
        self._applied_resources: dict[str, tuple[float, int]] = {}
        self._acknowledged: dict[str, int] = {}  # generation last reported as converged
        self._stale: set[str] = set()  # observation must be re-read before planning
        self._inflight: set[str] = set()
        self._revision = 0
        # While a full sync fetches, what the watch delivers (uuids) — newer than the fetch.
        self._taken_during_sync: set[str] | None = None
        self._again: set[str] = set()
        self._slots = asyncio.Semaphore(config.workers)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop = threading.Event()
        self.ready = asyncio.Event()  # set after the first full sync
        self.desired_sandboxes: dict[str, SandboxAssignment] = {}
        self._retiring: set[str] = set()  # sandboxes being removed (once, not per batch)
        self._unreported_sandboxes: set[str] = set()  # set up by a create, told with it
        self.sandboxes = SandboxKeeper(
            runtime,
            config.pool_size,
            self._spawn,
            busy=lambda: bool(self._inflight),
            pool_max=config.pool_max,
        )
        self.steps = EngineSteps(self)

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled (or until the host is removed): register, resync, then watch,
        heartbeat and follow events. The caller owns the engine-call thread pool and the
        control-plane client, which several hosts of one process share."""
        info = await asyncio.to_thread(self.runtime.host_info)
        await self._register(info)
        await self.sandboxes.prepare(self._host)
        await self.full_sync()
        self.ready.set()
        loops = [self._watch(), self._heartbeat(), self._periodic_resync()]
        if self.config.follow_events:
            loops.append(self._events())
        try:
            await asyncio.gather(*loops)
        finally:
            self._stop.set()
            for task in list(self._tasks):
                task.cancel()
            self.sandboxes.cancel_claims()

    async def _register(self, info: HostInfo) -> None:
        registration = HostRegistration(
            hostname=self.config.hostname or info.hostname,
            agent_url=self.config.agent_url,
            agent_token=self.config.agent_token,
            cpus=info.cpus,
            mem_total=info.mem_total_mib,
            disk_total=info.disk_total_gib,
            architecture=info.architecture,
            os_type=info.os_type,
            os=info.os,
            kernel_version=info.kernel_version,
            runtimes=info.runtimes,
            labels=self.config.labels,
            availability_zone=self.config.availability_zone,
        )
        self.host_uuid = await self.membership.register(registration)
        log.info("host %s is %s", registration.hostname, self.host_uuid)

    async def _recover(self) -> None:
        """The credential was refused: take a rotated one, join anew (serve), or stop."""
        if self.membership.reload():
            return
        if not self.membership.may_rejoin():
            raise self.membership.removed()
        await self._register(await asyncio.to_thread(self.runtime.host_info))
        await self.full_sync()

    @property
    def _host(self) -> str:
        if self.host_uuid is None:  # set by registration, before any loop starts
            raise RuntimeError("the agent is not registered yet")
        return self.host_uuid

    # --- watching desired state ------------------------------------------------------------

    async def full_sync(self) -> None:
        """Adopt every labelled engine container, learn every assignment, remove orphans.

        The engine is listed *before* the assignments are fetched, so a container created
        from an assignment newer than the snapshot cannot be mistaken for an orphan. The
        watch keeps running meanwhile: what it delivers during the fetch may be newer than
        the full set, so it is kept, and only containers the listing saw can be orphans.
        """
        self._taken_during_sync = taken = set[str]()
        try:
            listed = await asyncio.to_thread(self.runtime.list_containers, self._host)
            batch = await self.client.assignments(0, 0, full=True)
        finally:
            self._taken_during_sync = None
        first = not self.ready.is_set()
        self._merge_listing({c.uuid: c for c in listed}, first=first)
        # What the watch delivered meanwhile supersedes the fetch, even if it is gone again.
        fresher = {uuid: self.desired[uuid] for uuid in taken if uuid in self.desired}
        self.desired = {a.uuid: a for a in batch.containers if a.uuid not in taken} | fresher
        if first:  # after a restart every container is looked at once, found or not
            self._stale.update(self.desired)
        sandboxes = {s.uuid: s for s in batch.sandboxes if s.uuid not in taken}
        self.desired_sandboxes = sandboxes | {
            uuid: self.desired_sandboxes[uuid] for uuid in taken & set(self.desired_sandboxes)
        }
        self._revision = batch.revision
        for uuid in {c.uuid for c in listed} - set(self.desired):
            log.info("removing orphan engine container of %s", uuid)
            self._spawn(self._remove_orphan(self.engine[uuid]))
        in_use = {a.sandbox.uuid for a in self.desired.values() if a.sandbox}
        await self.sandboxes.sync(self.desired_sandboxes, in_use, joined_sandboxes(listed))
        for uuid in self.desired:
            self.kick(uuid)  # cheap unless stale or an intent is pending
        for sandbox in batch.sandboxes:
            self._take_sandbox(sandbox)

    def _merge_listing(self, listed: dict[str, EngineContainer], *, first: bool) -> None:
        """Take in the engine's list; what changed (or everything, at start) is re-read.

        The list lacks start times, which reconciling needs, so a listed container is only
        a hint: anything whose state moved since the last look is marked stale and inspected.
        """
        if first:
            self.engine = dict(listed)
            self._stale.update(listed)
            return
        for uuid, seen in listed.items():
            known = self.engine.get(uuid)
            if known is None or known.state != seen.state:
                self.engine[uuid] = seen
                self._stale.add(uuid)
        for uuid in set(self.engine) - set(listed):
            self._stale.add(uuid)  # gone from the engine, or made after the listing

    async def _watch(self) -> None:
        while True:
            try:
                batch = await self.client.assignments(self._revision, self.config.watch_timeout)
                self._take(batch)
            except (HostGone, CredentialRefused):
                await self._recover()
            except Exception as exc:  # control plane restarting: back off, then resume
                log.warning("watch failed (%s); retrying", exc)
                await asyncio.sleep(1.0)

    def _take(self, batch: AssignmentBatch) -> None:
        if self._taken_during_sync is not None:
            self._taken_during_sync.update(a.uuid for a in batch.containers)
            self._taken_during_sync.update(s.uuid for s in batch.sandboxes)
        for sandbox in batch.sandboxes:
            self._take_sandbox(sandbox)
        for assignment in batch.containers:
            self.desired[assignment.uuid] = assignment
            self.kick(assignment.uuid)
        self._revision = max(self._revision, batch.revision)

    def _take_sandbox(self, sandbox: SandboxAssignment) -> None:
        self.desired_sandboxes[sandbox.uuid] = sandbox
        deleted = sandbox.desired_state == DesiredState.DELETED.value
        if deleted and sandbox.uuid not in self._retiring:
            self._retiring.add(sandbox.uuid)
            self._spawn(self._retire_sandbox(sandbox))

    async def _retire_sandbox(self, sandbox: SandboxAssignment) -> None:
        try:
            report = await self.sandboxes.remove(sandbox)
            if await self._send([], [report]):
                self.desired_sandboxes.pop(sandbox.uuid, None)
        except errors.DockyardError as exc:
            log.warning("removing sandbox %s failed: %s", sandbox.uuid, exc.text)
        finally:
            self._retiring.discard(sandbox.uuid)

    async def _heartbeat(self) -> None:
        # A random phase, so that the hosts of one process do not all beat at once.
        await asyncio.sleep(random.uniform(0, self.config.heartbeat_interval))
        while True:
            try:
                await self.client.heartbeat()
            except (HostGone, CredentialRefused):
                log.warning("heartbeat refused; the watch sorts the identity out")
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(self.config.heartbeat_interval)

    async def _periodic_resync(self) -> None:
        await asyncio.sleep(random.uniform(0, self.config.resync_interval))
        while True:
            await asyncio.sleep(self.config.resync_interval)
            try:
                await self.full_sync()
            except Exception:
                log.exception("resync failed")

    async def _events(self) -> None:
        loop = asyncio.get_running_loop()

        def pump() -> None:
            while not self._stop.is_set():
                try:
                    for event in self.runtime.events(self._host, self._stop):
                        if event.action in _RELEVANT_EVENTS:
                            loop.call_soon_threadsafe(self._on_event, event.uuid, event.action)
                except Exception as exc:  # engine restarting: resubscribe shortly
                    log.warning("engine event stream failed: %s", exc)
                    self._stop.wait(1.0)

        await asyncio.to_thread(pump)

    def _on_event(self, uuid: str, action: str) -> None:
        if not event_is_news(action, self.engine.get(uuid)):
            return
        self._stale.add(uuid)
        if uuid in self.desired:
            self.kick(uuid)

    # --- converging one container ----------------------------------------------------------

    def kick(self, uuid: str) -> None:
        """Converge uuid soon; changes arriving meanwhile trigger one more round."""
        if uuid in self._inflight:
            self._again.add(uuid)
            return
        self._inflight.add(uuid)
        self._spawn(self._converge_rounds(uuid))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _converge_rounds(self, uuid: str) -> None:
        try:
            while True:
                self._again.discard(uuid)
                async with self._slots:
                    try:
                        await self.converge(uuid)
                    except Exception:
                        log.exception("converging %s failed", uuid)
                if uuid not in self._again:
                    return
        finally:
            self._inflight.discard(uuid)

    async def converge(self, uuid: str) -> None:
        desired = self.desired.get(uuid)
        if desired is None:
            return
        refreshed = uuid in self._stale
        if refreshed:
            self._stale.discard(uuid)
            await self._refresh(uuid)
        engine = self.engine.get(uuid)
        pending = self._pending(desired)
        if engine is None and desired.container_id is None and not pending:
            return  # a create that failed and was reported: retried on the next change
        steps = plan(
            desired, engine, pending=pending, resources_stale=self._resources_stale(desired)
        )
        if not steps and not refreshed and not pending:
            return
        gated = Step.START in steps and not self._may_start(desired)
        if gated:  # capsule order: wait for the init containers before this one
            steps = [s for s in steps if s not in (Step.START, Step.PAUSE)]
        report = await self._execute(desired, steps)
        report = self._with_sandbox_view(desired, report, in_progress=gated)
        current = self.desired.get(uuid)
        if current is not None and report.container_id and not current.container_id:
            # Remember the engine id the control plane now has: if the container vanishes
            # later, that is a removal to report, not a create still to do.
            self.desired[uuid] = current.model_copy(update={"container_id": report.container_id})
        if await self._send([report], self._sandbox_news(desired)) and not gated:
            self._acknowledged[uuid] = report.generation
        if report.gone:
            for known in (self.desired, self.engine, self._applied_resources, self._acknowledged):
                known.pop(uuid, None)
        if desired.container_type == "init" and desired.capsule_uuid:
            self._kick_capsule(desired.capsule_uuid, uuid)
        if uuid in self._stale and uuid in self.desired:
            self.kick(uuid)  # a step left facts to read back (addresses, exit code)

    def _may_start(self, desired: Assignment) -> bool:
        siblings = [
            (a, self.engine.get(a.uuid))
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

    async def _refresh(self, uuid: str) -> None:
        found = await asyncio.to_thread(self.runtime.find_container, uuid)
        if found is None:
            self.engine.pop(uuid, None)
        else:
            self.engine[uuid] = found

    def _resources_stale(self, desired: Assignment) -> bool:
        applied = self._applied_resources.get(desired.uuid)
        if applied is None:
            # Unknown since an agent restart: trust the control plane's acknowledgement.
            return desired.observed_generation < desired.generation
        return applied != (desired.spec.cpu, desired.spec.memory)

    async def _execute(self, desired: Assignment, steps: list[Step]) -> ContainerReport:
        """Run the steps; the report says where the container ended up (or why it failed)."""
        try:
            for step in steps:
                await self.steps.do(desired, step)
        except errors.DockyardError as exc:
            return self._failure(desired, exc)
        engine = self.engine.get(desired.uuid)
        if engine is None:
            return ContainerReport(uuid=desired.uuid, generation=desired.generation, gone=True)
        return report_of(desired, engine)

    def _failure(self, desired: Assignment, exc: errors.DockyardError) -> ContainerReport:
        log.warning("container %s: %s", desired.uuid, exc.text)
        engine = self.engine.get(desired.uuid)
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

    async def _remove_orphan(self, engine: EngineContainer) -> None:
        with contextlib.suppress(errors.DockyardError):
            await asyncio.to_thread(self.runtime.remove, engine.id)
        self.engine.pop(engine.uuid, None)

    def _sandbox_news(self, desired: Assignment) -> list[SandboxReport]:
        """The report of the sandbox this container's create set up: one request for both."""
        uuid = desired.sandbox.uuid if desired.sandbox else None
        if uuid is None or uuid not in self._unreported_sandboxes:
            return []
        self._unreported_sandboxes.discard(uuid)
        wanted, engine = self.desired_sandboxes.get(uuid), self.sandboxes.engine.get(uuid)
        return [sandbox_report(wanted, engine)] if wanted and engine else []

    async def _send(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> bool:
        """Report; False when the control plane could not be told (it will be, on resync)."""
        retrying = AsyncRetrying(
            # Exception only: a cancelled task must stop, not retry. A refused identity is the
            # watch's to sort out; a full sync resends.
            retry=retry_if_exception_type(Exception)
            & retry_if_not_exception_type((HostGone, CredentialRefused)),
            stop=stop_after_attempt(5),
            wait=wait_incrementing(start=0.5, increment=0.5),
            before_sleep=_warn_report_failed,
        )
        try:
            await retrying(self.client.report, reports, sandboxes or [])
        except (HostGone, CredentialRefused, RetryError):
            return False  # each failure was logged; a full sync resends
        return True


def _warn_report_failed(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("report failed (%s), attempt %d", exc, state.attempt_number)


def joined_sandboxes(listed: list[EngineContainer]) -> dict[str, str]:
    """Engine id of each joined sandbox → the sandbox uuid its containers name."""
    return {
        c.sandbox_id: c.labels[LABEL_SANDBOX]
        for c in listed
        if c.sandbox_id is not None and LABEL_SANDBOX in c.labels
    }
