"""Agent-facing use cases: registration, heartbeats, assignment watches and status reports."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from dockyard.db.engine import Session, Sessions, reading, transaction
from dockyard.db.repositories.containers import ContainerRepository
from dockyard.db.repositories.hosts import HostRepository, HostRevisions, credential_owner
from dockyard.db.repositories.sandboxes import SandboxRepository
from dockyard.db.tables import ContainerRow, HostRow, SandboxRow, utcnow
from dockyard.domain.containers import DesiredState, Status
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import HostNameTaken, HostNotFound, Unauthenticated, WrongHost
from dockyard.schemas.agent import (
    Assignment,
    AssignmentBatch,
    ContainerReport,
    HostRegistered,
    HostRegistration,
    RegistryCredentials,
    ReportBatch,
    SandboxRef,
)
from dockyard.schemas.netplane import HostNetworks, PortBinding
from dockyard.services import quotas
from dockyard.services.actions import record_engine_failure, record_host_outcome
from dockyard.services.container_networks import has_tenant_addresses
from dockyard.services.credentials import hash_of, new_secret, same_secret
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.hostnetworks import (
    Computed,
    recorded_networks,
    sync_host_networks,
    tunnel_ip_of,
)
from dockyard.services.images import record_pulled
from dockyard.services.netevents import touch_networks
from dockyard.services.portbindings import port_bindings
from dockyard.services.registries import credentials_of
from dockyard.services.sandboxes import (
    apply_sandbox_report,
    retire_if_empty,
    sandbox_assignment,
    sandbox_volumes,
)
from dockyard.services.secrets import SecretBox
from dockyard.services.signals import HostSignals
from dockyard.settings import Settings

log = logging.getLogger(__name__)

# Agents act for every project on their host; tenancy does not narrow what they see.
_SYSTEM = TenantScope.all_projects()

# How long a host's networks wait for its agent to ask again after a batch (see
# HostService._compute_after); an agent that does not (gone, slow) gets them computed anyway.
_ANSWER_GRACE = 0.1


@dataclass
class HostService:
    sessions: Sessions
    settings: Settings
    signals: HostSignals  # host uuid → its watch revision moved
    directory: HostDirectory
    secrets: SecretBox | None = None  # decrypts registry passwords for the agents' pulls
    # Per host: the networks last computed (with the revision they were recorded at, and
    # the one they were computed at), and the computation running beside a long-poll (see
    # _changes).
    _networks: dict[str, Computed] = field(default_factory=dict)
    _computing: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _again: set[str] = field(default_factory=set)
    # Per host: a computation put off until its batch is answered (see _compute_after).
    _deferred: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    async def register(self, reg: HostRegistration) -> HostRegistered:
        """Make a new host for an agent that joined (the caller checked the join token).

        A host is its credential, not its name: a second agent under a taken name is refused,
        so no two agents ever converge the same host's containers. A row from before
        credentials existed (no credential yet) is adopted by the first agent of its name.
        """
        credential = new_secret()
        async with transaction(self.sessions) as session:
            hosts = HostRepository(session)
            row = await hosts.find_by_hostname(reg.hostname)
            if row is not None and row.credential_hash is not None:
                raise HostNameTaken(hostname=reg.hostname)
            if row is None:
                row = HostRow(hostname=reg.hostname, cpu_used=0.0, mem_used=0, disk_used=0)
                hosts.add(row)
            _describe(row, reg)
            row.credential_hash = hash_of(credential)
            await session.flush()
            registered = HostRegistered(uuid=row.uuid, revision=row.revision, credential=credential)
        await self._registered()
        return registered

    async def refresh(self, host_uuid: str, reg: HostRegistration) -> HostRegistered:
        """An agent restarting with its stored identity: new address, secret and capacity."""
        async with transaction(self.sessions) as session:
            hosts = HostRepository(session)
            row = await hosts.get(host_uuid)
            if reg.hostname != row.hostname:
                other = await hosts.find_by_hostname(reg.hostname)
                if other is not None:
                    raise HostNameTaken(hostname=reg.hostname)
            address = tunnel_ip_of(row)
            _describe(row, reg)
            registered = HostRegistered(uuid=row.uuid, revision=row.revision)
            moved = recorded_networks(row) if tunnel_ip_of(row) != address else []
        if moved:
            # Its peers tunnel to the new address (their networks moved with it). Apart from
            # the row's own commit: its row locked first, then the others, could deadlock
            # with a peer recording its networks (touch_hosts locks in uuid order).
            async with transaction(self.sessions) as session:
                await touch_networks(session, moved)
        await self._registered()
        return registered

    async def _registered(self) -> None:
        self.directory.invalidate()

    async def authenticate(self, host_uuid: str, credential: str) -> None:
        """Unauthenticated unless credential is some host's; WrongHost unless it is host_uuid's.

        Read on every request (a rotated or removed credential stops working at once), so
        it reads the owner's uuid alone, on a Core connection. The long-poll and the reports
        check it in their own reads instead (`credential=`), one session fewer each."""
        async with reading(self.sessions) as connection:
            owner = await credential_owner(connection, hash_of(credential))
        _check_owner(owner, host_uuid)

    async def rotate(self, host_uuid: str) -> HostRegistered:
        """A new credential for the host; the old one stops working with this commit."""
        credential = new_secret()
        async with transaction(self.sessions) as session:
            row = await HostRepository(session).get(host_uuid)
            row.credential_hash = hash_of(credential)
            registered = HostRegistered(uuid=row.uuid, revision=row.revision, credential=credential)
        return registered

    async def heartbeat(self, host_uuid: str, cpu_observed: float | None = None) -> None:
        """The host is alive; `cpu_observed` (CPUs its containers used lately) is kept for the
        placement that prefers hosts with low CPU use."""
        async with transaction(self.sessions) as session:
            if not await HostRepository(session).touch(host_uuid, utcnow(), cpu_observed):
                raise HostNotFound(ident=host_uuid)

    async def list(self) -> Sequence[HostRow]:
        async with self.sessions() as session:
            return await HostRepository(session).list()

    async def find(self, ident: str) -> HostRow | None:
        async with self.sessions() as session:
            return await HostRepository(session).find(ident)

    async def get(self, ident: str) -> HostRow:
        async with self.sessions() as session:
            return await HostRepository(session).get(ident)

    async def assignments(
        self, host_uuid: str, since: int, wait: float, *, full: bool = False,
        credential: str | None = None,
    ) -> AssignmentBatch:  # fmt: skip
        """Changes for the host after revision `since` (long-polls up to `wait` seconds),
        or with `full` every container the host holds, at once. With `credential`, the
        first read of the host's revisions checks it (as `authenticate`, before any wait)."""
        deadline = asyncio.get_running_loop().time() + wait
        self._start_deferred(host_uuid)  # its agent has taken the last batch: compute now
        with self.signals.watching(host_uuid) as watch:
            while True:
                seen = watch.version  # before the read: no change slips in between
                remaining = deadline - asyncio.get_running_loop().time()
                idle = not full and remaining > 0 and not self.signals.closed
                batch = await self._batch_if_moved(
                    host_uuid, since, full, idle, remaining, credential
                )
                credential = None  # checked
                if batch is None:
                    # Nothing of this host moved since the agent's last batch (every change
                    # it must hear of moves the revision): skip computing it. The agent asks
                    # again right after each batch, and that computation (its networks
                    # above all) cost as much as the batch's own, on the loop the create
                    # runs on. A watch that times out still computes once.
                    await watch.wait(seen, remaining)
                    continue
                remaining = deadline - asyncio.get_running_loop().time()
                changed = batch.containers or batch.sandboxes or batch.networks
                if changed or full or remaining <= 0 or self.signals.closed:
                    return batch
                self._start_deferred(host_uuid)  # nothing to answer: nothing to wait for
                await watch.wait(seen, remaining)

    async def _batch_if_moved(
        self, host_uuid: str, since: int, full: bool, idle: bool, remaining: float,
        credential: str | None = None,
    ) -> AssignmentBatch | None:  # fmt: skip
        """The long-poll's batch, or None while idle and nothing of the host moved after
        `since`. The host's revisions and the batch are read in one session when its
        networks come after the batch (a woken long-poll sits between a create's commit
        and its agent's engine create: a session's begin and close cost ≈1.5 ms of the
        loop); the revisions read first, the batch's revision is never newer than its rows.
        `credential`: checked against the credential hash read with the revisions."""
        async with self.sessions() as session:
            try:
                host = await HostRepository(session).revisions(host_uuid)
            except HostNotFound:
                if credential is not None:  # 401 or 403 before saying the host is gone
                    await self.authenticate(host_uuid, credential)
                raise
            if credential is not None and not _holds(host.credential_hash, credential):
                await self.authenticate(host_uuid, credential)  # says why: 401 or 403
            if idle and host.revision <= since:
                return None
            if not full and remaining > 0 and host.network_revision <= since:
                return await self._changes(host_uuid, since, full, True, (session, host))
        return await self._changes(host_uuid, 0 if full else since, full)

    async def _changes(
        self, host_uuid: str, since: int, full: bool, beside: bool = False,
        read: tuple[Session, HostRevisions] | None = None,
    ) -> AssignmentBatch:  # fmt: skip
        """The batch; with `beside` (a long-poll whose agent has the networks last
        recorded) they are computed after it (_compute_after), not before it: a placed
        container goes to its agent without waiting for them (≈15 ms of queries, on the
        loop that serves the create), and if they moved, their record wakes this watch
        again, which then sends them (from `_networks`, not computed again). `read`: the
        caller's session and the host's revisions it read there (with `beside` only:
        computing the networks first would move the revision)."""
        networks: HostNetworks | None = None
        if not beside:
            networks = await self._networks_now(host_uuid, fresh=full)  # first: its own commit
        if read is not None:
            session, host = read
            return await self._read_batch(session, host_uuid, since, full, host, beside, networks)
        async with self.sessions() as session:
            host = await HostRepository(session).revisions(host_uuid)
            if self._may_have_moved(host_uuid, host):
                # A change committed between the computation and this read (a create's
                # ports): the batch's revision is past it, so the agent's next ask would
                # find nothing new and wait out its long-poll for them. That ask computes
                # them again; their record wakes it.
                self._compute_after(host_uuid)
            return await self._read_batch(session, host_uuid, since, full, host, beside, networks)

    def _may_have_moved(self, host_uuid: str, host: HostRevisions) -> bool:
        """Whether the networks last computed may not hold at these revisions."""
        known = self._networks.get(host_uuid)
        return known is None or not known.holds(
            host.network_revision, host.network_touched, time.time()
        )

    async def _read_batch(
        self, session: Session, host_uuid: str, since: int, full: bool, host: HostRevisions,
        beside: bool, networks: HostNetworks | None,
    ) -> AssignmentBatch:  # fmt: skip
        rows = await ContainerRepository(session, _SYSTEM).list_for_host(host_uuid, since)
        sandboxes = await SandboxRepository(session, _SYSTEM).list_for_host(host_uuid, since)
        volumes = await sandbox_volumes(session, [s.uuid for s in sandboxes])
        sandbox_of = {s.uuid: s for s in sandboxes}
        missing = {r.sandbox_uuid for r in rows if r.sandbox_uuid} - set(sandbox_of)
        for uuid in missing:  # a member changed, its sandbox did not: still needed
            found = await SandboxRepository(session, _SYSTEM).find(str(uuid))
            if found is not None:
                sandbox_of[found.uuid] = found
        auth = await self._credentials(session, rows)
        standalone = [r.uuid for r in rows if not r.sandbox_uuid]
        own, boxed = await port_bindings(session, standalone, [s.uuid for s in sandboxes])
        if beside:
            self._compute_after(host_uuid)
        shown = networks is not None and (full or since < networks.revision)
        return AssignmentBatch(
            networks=networks if shown else None,
            revision=host.revision,
            full=full,
            containers=[
                assignment_of(
                    row,
                    sandbox_of.get(str(row.sandbox_uuid)),
                    auth.get(row.uuid),
                    own.get(row.uuid, []),
                )
                for row in rows
            ],
            sandboxes=[
                sandbox_assignment(s, volumes.get(s.uuid, ())).model_copy(
                    update={"ports": boxed.get(s.uuid, [])}
                )
                for s in sandboxes
            ],
        )

    async def _networks_now(self, host_uuid: str, *, fresh: bool) -> HostNetworks:
        """The host's networks: those computed last (beside the last long-poll, say) if
        nothing that can move them came since, else computed now."""
        known = None if fresh else self._networks.get(host_uuid)
        self._cancel_deferred(host_uuid)  # computed now, after the change it was put off for
        computed = await sync_host_networks(self.sessions, host_uuid, known)
        self._networks[host_uuid] = computed
        return computed.networks

    def _compute_after(self, host_uuid: str) -> None:
        """Compute the networks once the batch just read has reached the agent: when the
        agent asks again (it does right after taking a batch) or after _ANSWER_GRACE. Begun
        at once, their ≈55 ms of queries and CPU shared the loop with the batch's own read
        and answer and the in-process agent's start of the create (≈30 ms later to the
        engine). Their record still wakes this host's watch, which then sends them."""
        if host_uuid not in self._deferred:
            loop = asyncio.get_running_loop()
            self._deferred[host_uuid] = loop.call_later(
                _ANSWER_GRACE, self._start_deferred, host_uuid
            )

    def _start_deferred(self, host_uuid: str) -> None:
        if self._cancel_deferred(host_uuid):
            self._compute_beside(host_uuid)

    def _cancel_deferred(self, host_uuid: str) -> bool:
        handle = self._deferred.pop(host_uuid, None)
        if handle is None:
            return False
        handle.cancel()
        return True

    def _compute_beside(self, host_uuid: str) -> None:
        """Compute (and record) the host's networks in a task of their own, once at a time
        per host; a request meanwhile makes it compute once more."""
        if host_uuid in self._computing:
            self._again.add(host_uuid)
            return
        task = asyncio.create_task(self._compute_rounds(host_uuid), name="host-networks")
        self._computing[host_uuid] = task

    async def _compute_rounds(self, host_uuid: str) -> None:
        try:
            while True:
                self._again.discard(host_uuid)
                try:
                    known = self._networks.get(host_uuid)
                    computed = await sync_host_networks(self.sessions, host_uuid, known)
                    self._networks[host_uuid] = computed
                except HostNotFound:
                    self._networks.pop(host_uuid, None)
                    return
                except Exception:  # the next long-poll computes them again
                    log.exception("computing the networks of host %s failed", host_uuid)
                    return
                if host_uuid not in self._again:
                    return
        finally:
            self._computing.pop(host_uuid, None)

    async def _credentials(
        self, session: Session, rows: Sequence[ContainerRow]
    ) -> dict[str, RegistryCredentials]:
        """Container uuid → its registry's credentials, for containers that name one."""
        found: dict[str, RegistryCredentials] = {}
        for row in rows:
            if row.spec.registry_id is None or self.secrets is None:
                continue
            given = await credentials_of(session, self.secrets, row.spec.registry_id)
            if given is not None:
                found[row.uuid] = RegistryCredentials.model_validate(given)
        return found

    async def apply_reports(
        self, host_uuid: str, batch: ReportBatch, credential: str | None = None
    ) -> None:
        """Record what the agent observed; rows whose engine object is gone for good go too.
        With `credential`, the transaction checks it first (as `authenticate`)."""
        async with transaction(self.sessions) as session:
            if credential is not None:
                _check_owner(await credential_owner(session, hash_of(credential)), host_uuid)
            repo = ContainerRepository(session, _SYSTEM)
            hosts = HostRepository(session)
            for report in batch.reports:
                row = await repo.find(report.uuid, for_update=True)
                if row is None or row.host_uuid != host_uuid:
                    continue  # not (or no longer) this host's: the next full sync sorts it out
                if report.pulled is not None:
                    await record_pulled(session, host_uuid, row, report.pulled)
                if report.gone and _may_forget(row):
                    if not await repo.delete(row):
                        continue  # a concurrent report removed it (and released its charge)
                    await session.flush()
                    # Sandbox before host, host before quota: the order creates take locks in,
                    # so the two cannot deadlock on PostgreSQL.
                    await retire_if_empty(session, row.sandbox_uuid)
                    # Its ports went: the release's UPDATE moves the revision (recompute).
                    await hosts.release(host_uuid, row.cpu, row.memory, touch=True)
                    await quotas.release(session, row.project_id, quotas.usage_of(row))
                else:
                    was_error = row.status == Status.ERROR.value
                    observed = row.observed_generation
                    _apply(row, report)
                    if row.status == Status.ERROR.value and not was_error:
                        await record_engine_failure(session, row.uuid, row.status_reason)
                    elif observed < row.generation <= row.observed_generation:
                        # every accepted change is now carried out: their actions finish
                        failed = row.status == Status.ERROR.value
                        reason = (row.status_reason or "Error") if failed else None
                        await record_host_outcome(session, [row.uuid], reason)
            for sandbox_report in batch.sandboxes:
                await apply_sandbox_report(session, host_uuid, sandbox_report)


def _check_owner(owner: str | None, host_uuid: str) -> None:
    """Unauthenticated unless the credential has an owner; WrongHost unless it is host_uuid."""
    if owner is None:
        raise Unauthenticated("A valid host credential is required.")
    if not same_secret(owner, host_uuid):
        raise WrongHost()


def _holds(credential_hash: str | None, credential: str) -> bool:
    """Whether credential is the one whose hash the host row holds."""
    return credential_hash is not None and same_secret(credential_hash, hash_of(credential))


def _describe(row: HostRow, reg: HostRegistration) -> None:
    for name, value in reg.model_dump().items():
        setattr(row, name, value)
    row.last_heartbeat_at = utcnow()


def _may_forget(row: ContainerRow) -> bool:
    return row.desired_state == DesiredState.DELETED.value or row.auto_remove


def _apply(row: ContainerRow, report: ContainerReport) -> None:
    current = report.generation >= row.generation and not report.in_progress
    if report.gone:
        row.status = Status.ERROR.value
        row.status_reason = "The engine container was removed outside Dockyard."
        row.task_state = None
        return
    # While an asked-for change is in flight, an older observation must not undo the
    # status the API set for it (Restarting, Deleting).
    keep = not current and row.status in (
        Status.RESTARTING.value, Status.DELETING.value, Status.REBUILDING.value
    )  # fmt: skip
    if report.status and not keep and row.desired_state != DesiredState.DELETED.value:
        row.status = report.status
        row.status_reason = report.status_reason
    elif report.status == Status.ERROR.value:
        row.status_reason = report.status_reason
    if report.in_progress:
        row.task_state = report.task_state
    if current:
        row.task_state = report.task_state
        row.observed_generation = max(row.observed_generation, report.generation)
    for name in ("container_id", "started_at", "finished_at", "exit_code", "addresses", "ports"):
        value = getattr(report, name)
        if name == "addresses" and has_tenant_addresses(row.addresses):
            continue  # the control plane's (tenant networks), not the engine's to replace
        if value is not None and not (keep and name == "container_id"):  # a rebuild's old one
            setattr(row, name, value)
    if row.hostname is None and report.hostname:
        row.hostname = report.hostname


def _sandbox_ref(sandbox: SandboxRow | None) -> SandboxRef | None:
    if sandbox is None:
        return None
    return SandboxRef(uuid=sandbox.uuid, hostname=sandbox.hostname, share_pid=sandbox.share_pid)


def assignment_of(
    row: ContainerRow,
    sandbox: SandboxRow | None = None,
    registry_auth: RegistryCredentials | None = None,
    ports: list[PortBinding] | None = None,
) -> Assignment:
    """The agent's view of one container: its spec as stored, and where it stands."""
    return Assignment(
        uuid=row.uuid,
        project_id=row.project_id,
        generation=row.generation,
        observed_generation=row.observed_generation,
        desired_state=row.desired_state,
        state_requested_at=row.state_requested_at,
        reboot_requested_at=row.reboot_requested_at,
        rebuild_generation=row.rebuild_generation,
        stop_timeout=row.stop_timeout,
        container_id=row.container_id,
        status=row.status,
        spec=row.spec,
        sandbox=_sandbox_ref(sandbox),
        capsule_uuid=row.capsule_uuid,
        container_type=row.container_type,
        capsule_order=row.capsule_order,
        name=row.name,
        registry_auth=registry_auth,
        ports=ports or [],
    )
