"""What the agent knows of its engine's containers, and which of it must be read again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from dockyard import errors
from dockyard.agent.reconcile import Step, event_is_news
from dockyard.runtime.base import ContainerRuntime, EngineContainer
from dockyard.schemas.agent import Assignment


class EngineView:
    """The last observation per container uuid, refreshed by events, steps and resyncs.

    A container marked stale is inspected again before it is next planned for: the engine's
    list and its events say *that* something changed, an inspect says what (start times,
    exit codes, addresses).
    """

    def __init__(self, runtime: ContainerRuntime) -> None:
        self.runtime = runtime
        self.containers: dict[str, EngineContainer] = {}
        self._stale: set[str] = set()
        # (cpu, memory) last applied to each container by this process.
        self._applied: dict[str, tuple[float, int]] = {}
        # Engine events held while the agent's own steps on a container run (see hold).
        self._held: dict[str, list[str]] = {}

    def get(self, uuid: str) -> EngineContainer | None:
        return self.containers.get(uuid)

    def put(self, container: EngineContainer) -> None:
        self.containers[container.uuid] = container

    def drop(self, uuid: str) -> EngineContainer | None:
        """Forget the observation (the container is gone from the engine)."""
        return self.containers.pop(uuid, None)

    def forget(self, uuid: str) -> None:
        """Forget everything about uuid (its removal was reported)."""
        self.containers.pop(uuid, None)
        self._applied.pop(uuid, None)
        self._stale.discard(uuid)

    @contextlib.contextmanager
    def steps_running(self, uuid: str) -> Iterator[None]:
        """While the agent's own steps on uuid run, its engine events are held, then judged
        against what the steps left in the view: the engine announces a create and a start
        before the thread that asked for them is back, so judged at once they looked like
        news, and each create cost one more round (an inspect, a report, a transaction).
        An event the steps do not explain (a die after our start) still marks it stale."""
        self._held[uuid] = held = self._held.get(uuid, [])
        try:
            yield
        finally:
            if self._held.get(uuid) is held:
                del self._held[uuid]
            known = self.containers.get(uuid)
            if any(event_is_news(action, known) for action in held):
                self._stale.add(uuid)

    def hold(self, uuid: str, action: str) -> bool:
        """Keep the event for the end of the steps running on uuid (False: none are)."""
        held = self._held.get(uuid)
        if held is None:
            return False
        held.append(action)
        return True

    def mark_stale(self, uuid: str) -> None:
        self._stale.add(uuid)

    def is_stale(self, uuid: str) -> bool:
        return uuid in self._stale

    def take_stale(self, uuid: str) -> bool:
        """Whether uuid was stale; it is not any more (the caller reads it back now)."""
        if uuid not in self._stale:
            return False
        self._stale.discard(uuid)
        return True

    async def refresh(self, uuid: str) -> EngineContainer | None:
        """Inspect uuid again (in a worker thread: the engine call blocks)."""
        found = await asyncio.to_thread(self._read, uuid, self.containers.get(uuid))
        if found is None:
            self.containers.pop(uuid, None)
        else:
            self.containers[uuid] = found
        return found

    def _read(self, uuid: str, known: EngineContainer | None) -> EngineContainer | None:
        """By the engine id already known: one engine call where a search by label is two
        (a list, then the inspect); the search when the id is unknown or gone (the engine
        name is the uuid's, so no other container of that uuid can exist beside it)."""
        if known is not None:
            try:
                return self.runtime.inspect(known.id)
            except errors.RuntimeNotFound:
                pass
        return self.runtime.find_container(uuid)

    def merge_listing(self, listed: dict[str, EngineContainer], *, first: bool) -> None:
        """Take in the engine's list; what changed (or everything, at start) is re-read.

        The list lacks start times, which reconciling needs, so a listed container is only
        a hint: anything whose state moved since the last look is marked stale and inspected.
        """
        if first:
            self.containers = dict(listed)
            self._stale.update(listed)
            return
        for uuid, seen in listed.items():
            known = self.containers.get(uuid)
            if known is None or known.state != seen.state:
                self.containers[uuid] = seen
                self._stale.add(uuid)
        for uuid in set(self.containers) - set(listed):
            self._stale.add(uuid)  # gone from the engine, or made after the listing

    def applied(self, desired: Assignment) -> None:
        """The container now runs with the desired resources."""
        self._applied[desired.uuid] = (desired.spec.cpu, desired.spec.memory)

    def resources_stale(self, desired: Assignment) -> bool:
        """Whether the engine may hold other resources than desired for this container."""
        applied = self._applied.get(desired.uuid)
        if applied is None:
            # Unknown since an agent restart: trust the control plane's acknowledgement.
            return desired.observed_generation < desired.generation
        return applied != (desired.spec.cpu, desired.spec.memory)

    def note(self, desired: Assignment, step: Step, engine: EngineContainer) -> None:
        """Record the step's known effect without asking the engine again (hot path)."""
        uuid = desired.uuid
        now = datetime.now(UTC)
        if step is Step.REMOVE:
            self.containers.pop(uuid, None)
        elif step in (Step.START, Step.RESTART, Step.UNPAUSE):
            started = now if step is not Step.UNPAUSE else engine.started_at
            self.containers[uuid] = replace(engine, state="running", started_at=started)
            if step is not Step.UNPAUSE and desired.sandbox is None:
                self._stale.add(uuid)  # its own network: read its address back
        elif step is Step.STOP:
            self.containers[uuid] = replace(engine, state="exited", finished_at=now)
            self._stale.add(uuid)  # exit code comes from the engine
        elif step is Step.PAUSE:
            self.containers[uuid] = replace(engine, state="paused")
        elif step is Step.UPDATE_RESOURCES:
            self.applied(desired)
