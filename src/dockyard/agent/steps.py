"""The engine side of one reconcile step: create (with its sandbox and volumes), start, …"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dockyard import errors
from dockyard.agent.reconcile import Step, run_spec
from dockyard.agent.sandboxes import Reservation
from dockyard.domain.containers import Status, TaskState
from dockyard.runtime.base import LABEL_CAPSULE, EngineContainer, RegistryAuth
from dockyard.schemas.agent import Assignment, ContainerReport

if TYPE_CHECKING:
    from dockyard.agent.loop import Agent

log = logging.getLogger(__name__)


class EngineSteps:
    """Carries out reconcile steps for the agent, updating its view of the engine."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    async def do(self, desired: Assignment, step: Step) -> None:
        """Run one step against the engine and remember its effect."""
        uuid = desired.uuid
        if step is Step.CREATE:
            await self._create(desired)
            return
        engine = self.agent.engine[uuid]
        action: Callable[[], None] = {
            Step.START: lambda: self.agent.runtime.start(engine.id),
            Step.STOP: lambda: self.agent.runtime.stop(engine.id, desired.stop_timeout),
            Step.RESTART: lambda: self.agent.runtime.restart(engine.id, desired.stop_timeout),
            Step.PAUSE: lambda: self.agent.runtime.pause(engine.id),
            Step.UNPAUSE: lambda: self.agent.runtime.unpause(engine.id),
            Step.REMOVE: lambda: self.agent.runtime.remove(engine.id),
            Step.UPDATE_RESOURCES: lambda: self.agent.runtime.update_resources(
                engine.id, desired.spec.cpu, desired.spec.memory
            ),
        }[step]
        await asyncio.to_thread(action)
        self._note(desired, step, engine)

    def _note(self, desired: Assignment, step: Step, engine: EngineContainer) -> None:
        """Record the step's known effect without asking the engine again (hot path)."""
        uuid = desired.uuid
        now = datetime.now(UTC)
        if step is Step.REMOVE:
            self.agent.engine.pop(uuid, None)
        elif step in (Step.START, Step.RESTART, Step.UNPAUSE):
            started = now if step is not Step.UNPAUSE else engine.started_at
            self.agent.engine[uuid] = _with(engine, state="running", started_at=started)
            if step is not Step.UNPAUSE and desired.sandbox is None:
                self.agent._stale.add(uuid)  # its own network: read its address back
        elif step is Step.STOP:
            self.agent.engine[uuid] = _with(engine, state="exited", finished_at=now)
            self.agent._stale.add(uuid)  # exit code comes from the engine
        elif step is Step.PAUSE:
            self.agent.engine[uuid] = _with(engine, state="paused")
        elif step is Step.UPDATE_RESOURCES:
            self.agent._applied_resources[uuid] = (desired.spec.cpu, desired.spec.memory)

    async def _create(self, desired: Assignment) -> None:
        """Create the container; a pool sandbox's claim runs beside the engine's create.

        Crash-safe: a container joined to a pool sandbox whose claim did not finish is
        found by the next sync, which finishes the claim (SandboxKeeper.sync).
        """
        reservation = None
        if desired.sandbox is not None:
            reservation = await self.agent.sandboxes.reserve(desired.sandbox, desired.project_id)
            self.agent._unreported_sandboxes.add(desired.sandbox.uuid)
        try:
            await self._make(desired, reservation.engine_id if reservation else None)
        except BaseException:
            if reservation is not None:  # the claim is the tenant's either way: let it end
                with contextlib.suppress(errors.DockyardError):
                    await reservation
            raise
        if reservation is not None and not await _claimed(reservation):
            await self._remake(desired)

    async def _remake(self, desired: Assignment) -> None:
        """The pool sandbox turned out unusable: drop what joined it, use another one."""
        if desired.sandbox is None:
            raise RuntimeError(f"{desired.uuid} has no sandbox to remake it in")
        made = self.agent.engine.pop(desired.uuid, None)
        if made is not None:
            await asyncio.to_thread(self.agent.runtime.remove, made.id)
        sandbox = await self.agent.sandboxes.ensure(desired.sandbox, desired.project_id)
        await self._make(desired, sandbox.id)

    async def _make(self, desired: Assignment, sandbox_id: str | None) -> None:
        for mount in desired.spec.volume_mounts:
            labels = {LABEL_CAPSULE: desired.capsule_uuid or ""}
            await asyncio.to_thread(
                self.agent.runtime.create_volume, mount.name, self.agent._host, labels
            )
        spec = run_spec(desired, self.agent._host, sandbox_id)
        policy = (desired.spec.image_pull_policy or "ifnotpresent").lower()
        if policy == "always":
            await self._pull(desired)
        try:
            engine_id = await asyncio.to_thread(self.agent.runtime.create, spec)
        except errors.ImageNotFound:
            if policy == "never":
                raise errors.ImageNotFound(
                    f"Image {desired.spec.image} is not on the host and image_pull_policy is never."
                ) from None
            await self._pull(desired)
            engine_id = await asyncio.to_thread(self.agent.runtime.create, spec)
        except errors.RuntimeConflict:
            # Created before a crash and not yet seen by this process: adopt it.
            found = await asyncio.to_thread(self.agent.runtime.find_container, desired.uuid)
            if found is None:
                raise
            self.agent.engine[desired.uuid] = found
            return
        self.agent.engine[desired.uuid] = EngineContainer(
            id=engine_id, uuid=desired.uuid, state="created"
        )
        self.agent._applied_resources[desired.uuid] = (desired.spec.cpu, desired.spec.memory)

    async def _pull(self, desired: Assignment) -> None:
        await self.agent._send(
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
            await asyncio.to_thread(self.agent.runtime.pull_image, desired.spec.image, auth)
        except errors.RuntimeFailure as exc:
            # The engine's reason (e.g. "no basic auth credentials"), and whose login it used.
            login = f"as {given.username} of {given.server}" if given else "without credentials"
            hint = "" if given else " (a private registry needs `registry` on create)"
            raise errors.RuntimeFailure(
                f"Pulling {desired.spec.image} {login} failed: {exc.text}{hint}"
            ) from exc


async def _claimed(reservation: Reservation) -> bool:
    """Whether the pool sandbox's claim went through (False: it was not usable)."""
    try:
        await reservation
    except errors.RuntimeConflict as exc:
        log.info("pool sandbox %s unusable (%s)", reservation.engine_id[:12], exc.text)
        return False
    return True


def _with(engine: EngineContainer, **changes: Any) -> EngineContainer:
    return replace(engine, **changes)
