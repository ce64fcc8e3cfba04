"""The agent: register, heartbeat, and run the units that watch, follow and converge."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from dataclasses import dataclass, field

from dockyard import errors
from dockyard.agent.converge import Converger
from dockyard.agent.cpumeter import CpuMeter
from dockyard.agent.events import EventPump
from dockyard.agent.membership import HostRemoved, Membership
from dockyard.agent.netplane.backend import NetworkBackend
from dockyard.agent.netplane.keeper import NetworkKeeper
from dockyard.agent.observed import EngineView
from dockyard.agent.reports import Reporter
from dockyard.agent.sandboxes import SandboxKeeper
from dockyard.agent.steps import EngineSteps
from dockyard.agent.tasks import Background
from dockyard.agent.watch import Watch
from dockyard.client.agent import AgentClient, CredentialRefused, HostGone
from dockyard.domain.containers import DesiredState
from dockyard.runtime.base import ContainerRuntime, EngineContainer, HostInfo
from dockyard.runtime.labels import LABEL_SANDBOX
from dockyard.schemas.agent import Assignment, HostRegistration, SandboxAssignment
from dockyard.schemas.netplane import HostNetworks

log = logging.getLogger(__name__)


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

    The agent wires units that each own their state: the watch (what is wanted), the engine
    view (what the engine last showed, and what must be read again), the event pump (engine
    events → stale), the converger (one container at a time), the sandbox keeper (the warm
    pool and tenants' sandboxes). The agent itself registers, beats, and runs full syncs,
    which touch all of them. The hot path — a new assignment — costs exactly the engine
    calls it needs.
    """

    def __init__(
        self,
        config: AgentConfig,
        runtime: ContainerRuntime,
        client: AgentClient,
        membership: Membership,
        network: NetworkBackend | None = None,
        cpu_meter: CpuMeter | None = None,
    ) -> None:
        self.config = config
        self.cpu_meter = cpu_meter  # None: this host cannot tell what its containers use
        self.runtime = runtime
        self.client = client
        self.membership = membership
        self.host_uuid: str | None = None
        self.ready = asyncio.Event()  # set after the first full sync
        self.background = Background()
        self.reporter = Reporter(client)
        self.view = EngineView(runtime)
        self.network = NetworkKeeper(network, runtime)  # tenant networks (None: not here)
        self.watch = Watch(
            client, config.watch_timeout, self._on_assignment, self._on_sandbox, self._recover,
            on_networks=self._on_networks,
        )  # fmt: skip
        self.sandboxes = SandboxKeeper(
            runtime,
            config.pool_size,
            self.background.spawn,
            busy=lambda: self.converger.busy,
            pool_max=config.pool_max,
        )
        steps = EngineSteps(
            runtime, self.view, self.sandboxes, self.reporter, lambda: self._host,
            network=self.network, desired_sandboxes=self.watch.sandboxes,
        )  # fmt: skip
        self.converger = Converger(
            self.watch.containers,
            self.watch.sandboxes,
            self.view,
            steps,
            self.reporter,
            self.background.spawn,
            config.workers,
        )
        self.events = EventPump(runtime, self.view, self._on_news)
        self._retiring: set[str] = set()  # sandboxes being removed (once, not per batch)

    @property
    def desired(self) -> dict[str, Assignment]:
        """The containers the control plane wants here (the watch's)."""
        return self.watch.containers

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled (or until the host is removed): register, resync, then watch,
        heartbeat and follow events. The caller owns the engine-call thread pool and the
        control-plane client, which several hosts of one process share."""
        info = await asyncio.to_thread(self.runtime.host_info)
        await self._register(info)
        try:
            await self._first_sync()
            self.ready.set()
            loops = [self.watch.run(), self._heartbeat(), self._periodic_resync()]
            if self.config.follow_events:
                loops.append(self.events.run(self._host))
            await asyncio.gather(*loops)
        except HostRemoved:
            # Gone from the cluster: the other hosts drop it from their peers; its own
            # networks (devices, rules, name servers) go too.
            await self.network.teardown()
            raise
        finally:
            self.events.stop()
            self.background.cancel_all()
            self.sandboxes.cancel_claims()
            self.network.close()

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

    async def _first_sync(self) -> None:
        """Prepare the pool and take the first full sync. The host may be removed (or its
        credential rotated) right after it registered: that refusal is sorted out as the
        watch sorts out its own, not left to end the process as if it had crashed."""
        while True:
            try:
                await self.sandboxes.prepare(self._host)
                await self.full_sync()
                return
            except (HostGone, CredentialRefused):
                await self._recover()

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

    # --- the full sync ---------------------------------------------------------------------

    async def full_sync(self) -> None:
        """Adopt every labelled engine container, learn every assignment, remove orphans.

        The engine is listed *before* the assignments are fetched, so a container created
        from an assignment newer than the snapshot cannot be mistaken for an orphan. The
        watch keeps running meanwhile: what it delivers during the fetch may be newer than
        the full set, so it is kept, and only containers the listing saw can be orphans.
        """
        with self.watch.recording() as taken:
            listed = await asyncio.to_thread(self.runtime.list_containers, self._host)
            batch = await self.client.assignments(0, 0, full=True)
        first = not self.ready.is_set()
        self.view.merge_listing({c.uuid: c for c in listed}, first=first)
        self._on_networks(batch.networks)
        self.watch.adopt(batch, taken)
        if first:  # after a restart every container is looked at once, found or not
            for uuid in self.desired:
                self.view.mark_stale(uuid)
        for uuid in {c.uuid for c in listed} - set(self.desired):
            orphan = self.view.get(uuid)
            if orphan is not None:
                log.info("removing orphan engine container of %s", uuid)
                self.background.spawn(self._remove_orphan(orphan))
        in_use = {a.sandbox.uuid for a in self.desired.values() if a.sandbox}
        await self.sandboxes.sync(self.watch.sandboxes, in_use, joined_sandboxes(listed))
        # After a restart: the backend's registry of ports anew; else a retry of any plug
        # that failed (a standalone container is otherwise plugged only when it converges).
        for sandbox in list(self.watch.sandboxes.values()):
            self._plug_sandbox(sandbox)
        for desired in list(self.desired.values()):
            if desired.ports and desired.sandbox is None:
                self.background.spawn(self._plug_container(desired))
        for uuid in self.desired:
            self.converger.kick(uuid)  # cheap unless stale or an intent is pending
        for sandbox in batch.sandboxes:
            self.watch.take_sandbox(sandbox)

    async def _remove_orphan(self, engine: EngineContainer) -> None:
        with contextlib.suppress(errors.DockyardError):
            await asyncio.to_thread(self.runtime.remove, engine.id)
        self.view.drop(engine.uuid)

    # --- what the watch and the event pump hand on -----------------------------------------

    def _on_assignment(self, uuid: str) -> None:
        desired = self.desired.get(uuid)
        if desired is not None and desired.sandbox is None:  # its own ports, plugged at start
            running = desired.desired_state == DesiredState.RUNNING.value
            self.network.expect(uuid, desired.ports if running else [])
        self.converger.kick(uuid)

    def _on_news(self, uuid: str) -> None:
        if uuid in self.desired:
            self.converger.kick(uuid)

    def _on_sandbox(self, sandbox: SandboxAssignment) -> None:
        deleted = sandbox.desired_state == DesiredState.DELETED.value
        if deleted and sandbox.uuid not in self._retiring:
            self._retiring.add(sandbox.uuid)
            self.background.spawn(self._retire_sandbox(sandbox))
        elif not deleted:
            self.network.expect(sandbox.uuid, sandbox.ports)
            self._plug_sandbox(sandbox)  # its ports may have changed (attach, detach)

    def _on_networks(self, networks: HostNetworks | None) -> None:
        """The networks of a batch: applied at once (the batch's ports wait for them)."""
        if networks is None or self.network.backend is None:
            return
        self.network.want(networks)
        # From now on the warm pool is made without the engine's network: see SandboxKeeper.
        self.sandboxes.use_engine_network(False)
        self.background.spawn(self.network.sync())

    def _plug_sandbox(self, sandbox: SandboxAssignment) -> None:
        """Plug a running sandbox's ports (a sandbox not made yet gets them at its create)."""
        engine = self.sandboxes.engine.get(sandbox.uuid)
        if engine is not None and engine.state == "running":
            self.background.spawn(self._plug(sandbox.uuid, engine.id, sandbox))

    async def _plug_container(self, desired: Assignment) -> None:
        try:
            await self.converger.steps.plug(desired)
        except errors.DockyardError as exc:
            log.warning("ports of container %s: %s", desired.uuid, exc.text)

    async def _plug(self, uuid: str, engine_id: str, sandbox: SandboxAssignment) -> None:
        try:
            await self.network.plug(uuid, engine_id, sandbox.ports)
        except errors.DockyardError as exc:
            log.warning("ports of sandbox %s: %s", uuid, exc.text)

    async def _retire_sandbox(self, sandbox: SandboxAssignment) -> None:
        try:
            report = await self.sandboxes.remove(sandbox)
            await self.network.unplug(sandbox.uuid)
            if await self.reporter.send([], [report]):
                self.watch.sandboxes.pop(sandbox.uuid, None)
        except errors.DockyardError as exc:
            log.warning("removing sandbox %s failed: %s", sandbox.uuid, exc.text)
        finally:
            self._retiring.discard(sandbox.uuid)

    # --- liveness --------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        # A random phase, so that the hosts of one process do not all beat at once.
        await asyncio.sleep(random.uniform(0, self.config.heartbeat_interval))
        while True:
            try:
                await self.client.heartbeat(await self._cpu_observed())
            except (HostGone, CredentialRefused):
                log.warning("heartbeat refused; the watch sorts the identity out")
            except Exception as exc:
                log.warning("heartbeat failed: %s", exc)
            await asyncio.sleep(self.config.heartbeat_interval)

    async def _cpu_observed(self) -> float | None:
        """CPUs the running containers used since the last heartbeat (None: unknown)."""
        if self.cpu_meter is None:
            return None
        ids = [c.id for c in self.view.containers.values() if c.state == "running"]
        try:
            return await asyncio.to_thread(self.cpu_meter.sample, ids)
        except ValueError:  # an accounting file of an unexpected shape: say nothing
            return None

    async def _periodic_resync(self) -> None:
        await asyncio.sleep(random.uniform(0, self.config.resync_interval))
        while True:
            await asyncio.sleep(self.config.resync_interval)
            try:
                await self.full_sync()
            except Exception:
                log.exception("resync failed")


def joined_sandboxes(listed: list[EngineContainer]) -> dict[str, str]:
    """Engine id of each joined sandbox → the sandbox uuid its containers name."""
    return {
        c.sandbox_id: c.labels[LABEL_SANDBOX]
        for c in listed
        if c.sandbox_id is not None and LABEL_SANDBOX in c.labels
    }
