"""An in-memory control plane for agent-loop tests: the agent API, with hooks to hold calls.

It speaks the interfaces of AgentClient and Membership (the agent reaches the real control
plane over HTTP), so tests can order what the agent sees: e.g. keep a full-sync fetch waiting
while the watch delivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import UTC, datetime
from typing import Any

from dockyard.agent.membership import HostRemoved
from dockyard.client.agent import HostGone
from dockyard.domain.containerspec import ContainerSpec
from dockyard.schemas.agent import (
    Assignment,
    AssignmentBatch,
    ContainerReport,
    HostRegistration,
    SandboxAssignment,
    SandboxReport,
)
from dockyard.schemas.netplane import HostNetworks

HOST = "host-1"
IMAGE = "busybox"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SPEC_FIELDS = {f.name for f in dataclasses.fields(ContainerSpec)}


def assignment(uuid: str, state: str = "running", generation: int = 1, **kw: Any) -> Assignment:
    """An assignment; keywords that name a ContainerSpec field go into its spec."""
    spec: dict[str, Any] = {"image": IMAGE, "cpu": 0.1, "memory": 64, "command": ["sleep", "1000"]}
    spec.update({k: kw.pop(k) for k in SPEC_FIELDS & set(kw)})
    fields: dict[str, Any] = {
        "uuid": uuid, "project_id": "p", "generation": generation, "desired_state": state,
        "state_requested_at": T0, "status": "Creating", "name": uuid, "observed_generation": 0,
        "spec": ContainerSpec(**spec),
    }  # fmt: skip
    fields.update(kw)
    return Assignment(**fields)


class FakeControlPlane:
    def __init__(self, host: str = HOST) -> None:
        self.host = host
        self.revision = 0
        self.rows: dict[str, tuple[int, Assignment]] = {}  # uuid → (revision, desired)
        self.sandbox_rows: dict[str, tuple[int, SandboxAssignment]] = {}
        self.networks: tuple[int, HostNetworks] | None = None
        self.gone = False  # set: the host was removed (the watch is refused)
        self.reports: list[ContainerReport] = []
        self.changed = asyncio.Condition()
        self.hold_full: asyncio.Event | None = None  # set: full fetches wait for it
        self.full_fetched = asyncio.Event()  # a full fetch has read its snapshot

    # --- what a test does ------------------------------------------------------------------

    async def put(self, desired: Assignment) -> None:
        async with self.changed:
            self.revision += 1
            self.rows[desired.uuid] = (self.revision, desired)
            self.changed.notify_all()

    async def put_sandbox(self, desired: SandboxAssignment) -> None:
        async with self.changed:
            self.revision += 1
            self.sandbox_rows[desired.uuid] = (self.revision, desired)
            self.changed.notify_all()

    async def put_networks(self, networks: HostNetworks) -> None:
        async with self.changed:
            self.revision += 1
            self.networks = (self.revision, networks)
            self.changed.notify_all()

    def forget(self, uuid: str) -> None:
        """The row vanishes without the agent being told (as if it missed the change)."""
        self.rows.pop(uuid, None)

    def last(self, uuid: str) -> ContainerReport | None:
        return next((r for r in reversed(self.reports) if r.uuid == uuid), None)

    # --- AgentClient's interface -----------------------------------------------------------

    # --- Membership's interface (the host has joined already) ------------------------------

    async def register(self, registration: HostRegistration) -> str:
        return self.host

    def reload(self) -> bool:
        return False

    def may_rejoin(self) -> bool:
        return False

    def removed(self) -> HostRemoved:
        return HostRemoved(f"host {self.host} was removed")

    async def heartbeat(self, cpu_observed: float | None = None) -> None:
        return None

    async def assignments(self, since: int, wait: float, *, full: bool = False) -> AssignmentBatch:
        if self.gone:
            raise HostGone("removed")
        if full:
            batch = self._batch(0, full=True)  # the snapshot, read before any hold
            self.full_fetched.set()
            if self.hold_full is not None:
                await self.hold_full.wait()
            return batch
        async with self.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.changed.wait_for(lambda: self.revision > since), timeout=wait
                )
            return self._batch(since, full=False)

    def _batch(self, since: int, *, full: bool) -> AssignmentBatch:
        rows = [a for rev, a in self.rows.values() if rev > since]
        sandboxes = [s for rev, s in self.sandbox_rows.values() if rev > since]
        networks = None
        if self.networks is not None and (full or self.networks[0] > since):
            networks = self.networks[1]
        return AssignmentBatch(
            revision=self.revision, full=full, containers=rows, sandboxes=sandboxes,
            networks=networks,
        )  # fmt: skip

    async def report(
        self,
        reports: list[ContainerReport],
        sandboxes: list[SandboxReport] | None = None,
    ) -> None:
        self.reports.extend(reports)
        for report in reports:
            row = self.rows.get(report.uuid)
            if row is None:
                continue
            revision, desired = row
            if report.gone and desired.desired_state == "deleted":
                self.rows.pop(report.uuid)  # as the control plane forgets a deleted row
            elif not report.in_progress and report.generation >= desired.generation:
                update: dict[str, Any] = {"observed_generation": report.generation}
                if report.container_id:
                    update["container_id"] = report.container_id
                self.rows[report.uuid] = (revision, desired.model_copy(update=update))

    async def close(self) -> None:
        return None
