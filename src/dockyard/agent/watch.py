"""The watch: what the control plane wants of this host, kept current by a long poll."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol

from dockyard.client.agent import CredentialRefused, HostGone
from dockyard.schemas.agent import Assignment, AssignmentBatch, SandboxAssignment
from dockyard.schemas.netplane import HostNetworks

log = logging.getLogger(__name__)


class AssignmentSource(Protocol):
    """The part of AgentClient the watch reads."""

    async def assignments(
        self, since: int, wait: float, *, full: bool = False
    ) -> AssignmentBatch: ...


class Watch:
    """The desired containers and sandboxes of this host, newest assignment per uuid.

    `containers` and `sandboxes` are changed in place only, so the units that read them
    (convergence, the sandboxes' retirement) may hold the same dicts.

    While a full fetch is under way (`recording`), the uuids the watch delivers are kept:
    they are newer than the fetch, so `adopt` lets them win over the full set.
    """

    def __init__(
        self,
        client: AssignmentSource,
        timeout: float,
        on_container: Callable[[str], None],
        on_sandbox: Callable[[SandboxAssignment], None],
        recover: Callable[[], Awaitable[None]],
        on_networks: Callable[[HostNetworks | None], None] = lambda _: None,
    ) -> None:
        self.client = client
        self.on_networks = on_networks  # told first: ports of the batch may need them
        self.timeout = timeout
        self.on_container = on_container
        self.on_sandbox = on_sandbox
        self.recover = recover
        self.containers: dict[str, Assignment] = {}
        self.sandboxes: dict[str, SandboxAssignment] = {}
        self.revision = 0
        self._taken_during_sync: set[str] | None = None

    async def run(self) -> None:
        """Long-poll for changes until cancelled; a refused identity is handed to recover."""
        while True:
            try:
                self.take(await self.client.assignments(self.revision, self.timeout))
            except (HostGone, CredentialRefused):
                await self.recover()
            except Exception as exc:  # control plane restarting: back off, then resume
                log.warning("watch failed (%s); retrying", exc)
                await asyncio.sleep(1.0)

    def take(self, batch: AssignmentBatch) -> None:
        """Adopt the changes of one batch and hand each on."""
        if self._taken_during_sync is not None:
            self._taken_during_sync.update(a.uuid for a in batch.containers)
            self._taken_during_sync.update(s.uuid for s in batch.sandboxes)
        self.on_networks(batch.networks)
        for sandbox in batch.sandboxes:
            self.take_sandbox(sandbox)
        for assignment in batch.containers:
            self.containers[assignment.uuid] = assignment
            self.on_container(assignment.uuid)
        self.revision = max(self.revision, batch.revision)

    def take_sandbox(self, sandbox: SandboxAssignment) -> None:
        self.sandboxes[sandbox.uuid] = sandbox
        self.on_sandbox(sandbox)

    @contextlib.contextmanager
    def recording(self) -> Iterator[set[str]]:
        """The uuids the watch delivers meanwhile (a full fetch is under way)."""
        self._taken_during_sync = taken = set[str]()
        try:
            yield taken
        finally:
            self._taken_during_sync = None

    def adopt(self, batch: AssignmentBatch, taken: set[str]) -> None:
        """Replace what is wanted by a full batch, except what the watch delivered since."""
        fresher = {uuid: self.containers[uuid] for uuid in taken if uuid in self.containers}
        full = {a.uuid: a for a in batch.containers if a.uuid not in taken}
        self.containers.clear()
        self.containers.update(full | fresher)
        kept = {uuid: self.sandboxes[uuid] for uuid in taken & set(self.sandboxes)}
        sandboxes = {s.uuid: s for s in batch.sandboxes if s.uuid not in taken}
        self.sandboxes.clear()
        self.sandboxes.update(sandboxes | kept)
        self.revision = batch.revision
