"""The engine side of one reconcile step: create (with its sandbox and volumes), start, …"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace

from dockyard import errors
from dockyard.agent.netplane.keeper import NetworkKeeper
from dockyard.agent.observed import EngineView
from dockyard.agent.reconcile import Step, run_spec
from dockyard.agent.reports import Reporter
from dockyard.agent.sandboxes import RenameGate, Reservation, SandboxKeeper
from dockyard.domain.containers import Status, TaskState
from dockyard.runtime.base import ContainerRuntime, EngineContainer, RegistryAuth
from dockyard.runtime.labels import LABEL_CAPSULE, LABEL_PROJECT, LABEL_VOLUME
from dockyard.runtime.specs import RunSpec, container_labels
from dockyard.schemas.agent import Assignment, ContainerReport, PulledImage, SandboxAssignment
from dockyard.schemas.netplane import PortBinding

log = logging.getLogger(__name__)
NO_CREDENTIALS_HINT = (
    " (a private registry needs `registry` on create; for a capsule, a registry record"
    " for the image's domain)"
)


class EngineSteps:
    """Carries out reconcile steps against the engine, recording their effect in `view`.

    `host` is read when a step runs: the agent learns its host uuid by registering, after
    the units are made.
    """

    def __init__(
        self,
        runtime: ContainerRuntime,
        view: EngineView,
        sandboxes: SandboxKeeper,
        reporter: Reporter,
        host: Callable[[], str],
        network: NetworkKeeper | None = None,
        desired_sandboxes: dict[str, SandboxAssignment] | None = None,
    ) -> None:
        self.runtime = runtime
        self.network = network or NetworkKeeper(None, runtime)
        self.desired_sandboxes = {} if desired_sandboxes is None else desired_sandboxes
        self.view = view
        self.sandboxes = sandboxes
        self.reporter = reporter
        self.host = host
        self._made_sandboxes: set[str] = set()  # set up by a create, not reported yet
        # The pid a create's own start just read back, for the plug that follows it (once:
        # any later step may have replaced the process, whose pid is then read anew).
        self._started_pids: dict[str, int] = {}

    def take_made_sandbox(self, uuid: str) -> bool:
        """Whether a create set sandbox uuid up since it was last asked (its news is due)."""
        if uuid not in self._made_sandboxes:
            return False
        self._made_sandboxes.discard(uuid)
        return True

    async def do(self, desired: Assignment, step: Step) -> None:
        """Run one step against the engine and remember its effect."""
        uuid = desired.uuid
        self._started_pids.pop(uuid, None)
        if step is Step.CREATE:
            await self._create(desired)
            return
        engine = self.view.get(uuid)
        if engine is None:
            raise RuntimeError(f"{uuid} has no engine container to {step}")
        action: Callable[[], None] = {
            Step.START: lambda: self.runtime.start(engine.id),
            Step.STOP: lambda: self.runtime.stop(engine.id, desired.stop_timeout),
            Step.RESTART: lambda: self.runtime.restart(engine.id, desired.stop_timeout),
            Step.PAUSE: lambda: self.runtime.pause(engine.id),
            Step.UNPAUSE: lambda: self.runtime.unpause(engine.id),
            Step.REMOVE: lambda: self.runtime.remove(engine.id),
            Step.UPDATE_RESOURCES: lambda: self.runtime.update_resources(
                engine.id, desired.spec.cpu, desired.spec.memory
            ),
        }[step]
        await asyncio.to_thread(action)
        self.view.note(desired, step, engine)
        if step is Step.REMOVE:
            await self.network.unplug(uuid)

    async def create_started(self, desired: Assignment) -> bool:
        """CREATE then START in one engine-thread job when it can (True: both done), else
        CREATE alone (False: START is still to do).

        The hot path of a create: each hop between the event loop and an engine thread
        waits for a turn of the loop, which the API's requests keep busy; one hop fewer is
        a turn less before the container runs. A container joining a pool sandbox starts
        only once the engine renamed that sandbox (the claim, which runs beside the
        create); if the rename is not through by then, START is left to the next step. A
        start the engine refuses leaves the container created, as two steps would.

        A standalone container is read back in the same job once started (its address, its
        pid for the plug): the round's read-back and the plug's own inspect were two more
        engine calls, each with its hop back to the loop, between the start and the report.
        """
        policy = (desired.spec.image_pull_policy or "ifnotpresent").lower()
        ports = bool(self._sandbox_ports(desired))  # plugged between the create and the start
        if desired.spec.volume_mounts or policy == "always" or ports:
            await self._create(desired)
            return False
        reservation = await self._reserve(desired)
        spec = self._run_spec(desired, reservation.engine_id if reservation else None)
        try:
            engine_id, started, seen = await self._in_one_job(spec, reservation)
        except (errors.ImageNotFound, errors.RuntimeConflict):
            await self._create(desired)  # the pull, or the adoption, as a plain create does
            return False
        labels = container_labels(spec)  # its generation tells a later rebuild it is new
        engine = EngineContainer(id=engine_id, uuid=desired.uuid, state="created", labels=labels)
        self.view.put(engine)
        self.view.applied(desired)
        self._started_pids.pop(desired.uuid, None)
        if seen is not None:  # started and read back: nothing is left to read
            self.view.put(seen)
            if seen.pid is not None:
                self._started_pids[desired.uuid] = seen.pid
            return True
        if reservation is not None and not await _claimed(reservation):
            await self._remake(desired)  # not started: the rename had failed
            return False
        if reservation is not None:
            await self._plug_sandbox(desired, reservation.engine_id)  # no ports: a no-op
        if isinstance(started, errors.DockyardError):
            raise started
        if started:
            self.view.note(desired, Step.START, engine)
        return started

    async def _in_one_job(
        self, spec: RunSpec, reservation: Reservation | None
    ) -> tuple[str, bool | errors.DockyardError, EngineContainer | None]:
        gate = reservation.renamed if reservation else None
        try:
            return await asyncio.to_thread(_create_then_start, self.runtime, spec, gate)
        except BaseException as exc:
            retried = isinstance(exc, (errors.ImageNotFound, errors.RuntimeConflict))
            if reservation is not None and not retried:  # the claim is the tenant's: let it end
                with contextlib.suppress(errors.DockyardError):
                    await reservation
            raise

    async def _reserve(self, desired: Assignment) -> Reservation | None:
        if desired.sandbox is None:
            return None
        engine_network = not self._sandbox_ports(desired)
        reservation = await self.sandboxes.reserve(
            desired.sandbox, desired.project_id, engine_network=engine_network
        )
        self._made_sandboxes.add(desired.sandbox.uuid)
        return reservation

    async def _create(self, desired: Assignment) -> None:
        """Create the container; a pool sandbox's claim runs beside the engine's create.

        Crash-safe: a container joined to a pool sandbox whose claim did not finish is
        found by the next sync, which finishes the claim (SandboxKeeper.sync).
        """
        reservation = await self._reserve(desired)
        # The sandbox's ports are plugged while the engine creates the container: both take
        # tens of milliseconds, and only the start must wait for the ports.
        plugging = self._plug_beside(desired, reservation)
        try:
            await self._make(desired, reservation.engine_id if reservation else None)
        except BaseException:
            if reservation is not None:  # the claim is the tenant's either way: let it end
                with contextlib.suppress(errors.DockyardError):
                    await reservation
            await _ended(plugging)
            raise
        if reservation is not None and not await _claimed(reservation):
            await _ended(plugging)
            if desired.sandbox is not None:  # what went into the unusable one goes with it
                await self.network.unplug(desired.sandbox.uuid)
            await self._remake(desired)
        elif plugging is not None:
            await plugging

    def _plug_beside(
        self, desired: Assignment, reservation: Reservation | None
    ) -> asyncio.Task[None] | None:
        """Plug the reserved sandbox's ports in a task of their own (None: no ports)."""
        if reservation is None or not self._sandbox_ports(desired):
            return None
        return asyncio.create_task(self._plug_sandbox(desired, reservation.engine_id))

    async def _remake(self, desired: Assignment) -> None:
        """The pool sandbox turned out unusable: drop what joined it, use another one."""
        if desired.sandbox is None:
            raise RuntimeError(f"{desired.uuid} has no sandbox to remake it in")
        made = self.view.drop(desired.uuid)
        if made is not None:
            await asyncio.to_thread(self.runtime.remove, made.id)
        on_nets = bool(self._sandbox_ports(desired))
        sandbox = await self.sandboxes.ensure(desired.sandbox, desired.project_id, not on_nets)
        await self._make(desired, sandbox.id)
        await self._plug_sandbox(desired, sandbox.id)

    def _sandbox_ports(self, desired: Assignment) -> list[PortBinding]:
        wanted = self.desired_sandboxes.get(desired.sandbox.uuid) if desired.sandbox else None
        return wanted.ports if wanted is not None else []

    async def _plug_sandbox(self, desired: Assignment, engine_id: str) -> None:
        """The sandbox's ports, before the container that joined it starts."""
        if desired.sandbox is not None:
            await self.network.plug(desired.sandbox.uuid, engine_id, self._sandbox_ports(desired))

    async def plug(self, desired: Assignment) -> None:
        """A running standalone container holds its ports (after each start: a new
        namespace each time; and when the control plane attached or detached one)."""
        engine = self.view.get(desired.uuid)
        pid = self._started_pids.pop(desired.uuid, None)
        if desired.sandbox is None and engine is not None and engine.state == "running":
            await self.network.plug(desired.uuid, engine.id, desired.ports, pid=pid)

    def _run_spec(self, desired: Assignment, sandbox_id: str | None) -> RunSpec:
        spec = run_spec(desired, self.host(), sandbox_id)
        # No backend here, no plug: nothing would ever release a hold.
        return spec if self.network.backend is not None else replace(spec, hold=False)

    async def _make(self, desired: Assignment, sandbox_id: str | None) -> None:
        for mount in desired.spec.volume_mounts:
            if not mount.name:  # a new volume of this container: the engine makes it
                continue
            labels = {LABEL_CAPSULE: desired.capsule_uuid or ""}
            if mount.volume_uuid is not None:  # a project's named volume
                labels = {LABEL_VOLUME: mount.volume_uuid, LABEL_PROJECT: desired.project_id}
            await asyncio.to_thread(self.runtime.create_volume, mount.name, self.host(), labels)
        spec = self._run_spec(desired, sandbox_id)
        policy = (desired.spec.image_pull_policy or "ifnotpresent").lower()
        if policy == "always":
            await self._pull(desired)
        try:
            engine_id = await asyncio.to_thread(self.runtime.create, spec)
        except errors.ImageNotFound:
            if policy == "never":
                raise errors.ImageNotFound(
                    f"Image {desired.spec.image} is not on the host and image_pull_policy is never."
                ) from None
            await self._pull(desired)
            engine_id = await asyncio.to_thread(self.runtime.create, spec)
        except errors.RuntimeConflict:
            # Created before a crash and not yet seen by this process: adopt it.
            found = await asyncio.to_thread(self.runtime.find_container, desired.uuid)
            if found is None:
                raise
            self.view.put(found)
            return
        labels = container_labels(spec)  # its generation tells a later rebuild it is new
        self.view.put(
            EngineContainer(id=engine_id, uuid=desired.uuid, state="created", labels=labels)
        )
        self.view.applied(desired)

    async def _pull(self, desired: Assignment) -> None:
        await self.reporter.send(
            [
                ContainerReport(
                    uuid=desired.uuid,
                    generation=desired.generation,
                    in_progress=True,
                    status=Status.CREATING.value,
                    task_state=TaskState.IMAGE_PULLING.value,
                )
            ]
        )
        given = desired.registry_auth
        auth = None
        if given is not None:
            auth = RegistryAuth(given.server, given.username, given.password.get_secret_value())
        try:
            await asyncio.to_thread(self.runtime.pull_image, desired.spec.image, auth)
        except errors.RuntimeFailure as exc:
            # The engine's reason (e.g. "no basic auth credentials"), and whose login it used.
            login = f"as {given.username} of {given.server}" if given else "without credentials"
            hint = "" if given else NO_CREDENTIALS_HINT
            raise errors.RuntimeFailure(
                f"Pulling {desired.spec.image} {login} failed: {exc.text}{hint}"
            ) from exc
        await self._tell_pulled(desired)

    async def _tell_pulled(self, desired: Assignment) -> None:
        """Report the image the pull brought, so the host's image list shows it (a lost
        report costs only that record: the create goes on either way)."""
        info = await asyncio.to_thread(self.runtime.image_info, desired.spec.image)
        if info is None:
            return
        pulled = PulledImage(ref=desired.spec.image, image_id=info.id, size=info.size)
        report = ContainerReport(
            uuid=desired.uuid, generation=desired.generation, in_progress=True,
            status=Status.CREATING.value, task_state=TaskState.CREATING.value, pulled=pulled,
        )  # fmt: skip
        await self.reporter.send([report])


# How long the create's engine thread waits for its pool sandbox's rename (which runs beside
# the create and is usually through first) before leaving the start to the event loop.
RENAME_WAIT = 0.1


def _create_then_start(
    runtime: ContainerRuntime, spec: RunSpec, renamed: RenameGate | None
) -> tuple[str, bool | errors.DockyardError, EngineContainer | None]:
    """(engine id, whether it was started or the start's refusal, and a standalone
    container's inspect once started), in one engine thread. An inspect that fails is left
    to the round's read-back, as after a start of its own."""
    engine_id = runtime.create(spec)
    if renamed is not None and not renamed.passed(RENAME_WAIT):
        return engine_id, False, None
    try:
        runtime.start(engine_id)
    except errors.DockyardError as exc:
        return engine_id, exc, None
    if spec.sandbox_engine_id is not None:  # joined: the sandbox's address is known already
        return engine_id, True, None
    try:
        return engine_id, True, runtime.inspect(engine_id)
    except errors.DockyardError:
        return engine_id, True, None


async def _ended(task: asyncio.Task[None] | None) -> None:
    """Let a task end, whatever it raises (its work is dropped or done again)."""
    if task is not None:
        with contextlib.suppress(Exception):
            await task


async def _claimed(reservation: Reservation) -> bool:
    """Whether the pool sandbox's claim went through (False: it was not usable)."""
    try:
        await reservation
    except errors.RuntimeConflict as exc:
        log.info("pool sandbox %s unusable (%s)", reservation.engine_id[:12], exc.text)
        return False
    return True
