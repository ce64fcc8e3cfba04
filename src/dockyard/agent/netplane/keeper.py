"""The agent's side of tenant networks: what to apply, and which ports go where, when."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from dockyard import errors
from dockyard.agent.netplane.backend import NetworkBackend
from dockyard.runtime import hold
from dockyard.runtime.base import ContainerRuntime
from dockyard.schemas.netplane import LINGER_SECONDS, HostNetworks, NetworkSpec, PortBinding

log = logging.getLogger(__name__)

# How long a network whose last port left this host stays plumbed. A network comes to a host
# with its first port and went with its last: a user creating and deleting one container at
# a time paid the bridge, the VXLAN device, routes and rules (twenty-odd commands, ≈90 ms on
# the way to running) for each. A lingering network has no port, so nothing reaches it; it
# lingers only while the control plane lists it as such (it exists: a deleted network goes).
LINGER = LINGER_SECONDS


class NetworkKeeper:
    """Keeps the backend in step with the control plane, from the agent's event loop.

    An owner is a sandbox (its containers share its namespace) or a standalone container,
    by uuid. Its ports are plugged into the namespace of its running process, found by pid,
    before its containers start (a sandbox runs before they join it; a standalone container
    is plugged right after its start, its command held until then: runtime/hold.py). A
    restarted owner has a new namespace and its veths died with the old one, so a changed pid
    plugs everything again.
    Every call is idempotent: a resync simply plugs what should be plugged.
    """

    def __init__(self, backend: NetworkBackend | None, runtime: ContainerRuntime) -> None:
        self.backend = backend
        self.runtime = runtime
        self.active = False  # a HostNetworks came: the control plane runs tenant networks
        self._wanted: HostNetworks | None = None
        self._applied: HostNetworks | None = None
        # owner: pid, its ports by id (whole bindings: a port's security groups may change)
        self._plugged: dict[str, tuple[int, dict[str, PortBinding]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._apply_lock = asyncio.Lock()
        self._news = asyncio.Event()  # set by want(): newer networks may carry a port's
        # Networks no longer wanted, still plumbed until then (monotonic time; see LINGER).
        self._lingering: dict[str, tuple[float, NetworkSpec]] = {}
        self._expiry: asyncio.TimerHandle | None = None
        self._expiring: asyncio.Task[None] | None = None
        self._rules_owed = False  # applied with rules_follow; no plug has loaded them yet
        # Ports about to be plugged, by owner: their rules go with the next apply.
        self._expected: dict[str, list[PortBinding]] = {}
        self._expecting = False  # _expected changed since the last apply
        # Ports of owners that went, waiting for the next disconnect (see _disconnect).
        self._leaving: list[tuple[list[str], asyncio.Future[None]]] = []
        self._disconnecting: asyncio.Task[None] | None = None

    @property
    def networks(self) -> HostNetworks | None:
        return self._applied

    def want(self, networks: HostNetworks | None) -> None:
        """The control plane's latest word (None: unchanged); `sync` applies it."""
        if networks is None or self.backend is None:
            return
        self.active = True
        # A full fetch may answer after a newer batch of the watch: the newest wins.
        if self._wanted is None or networks.revision >= self._wanted.revision:
            self._wanted = networks
            self._news.set()

    async def sync(self, *, rules_follow: bool = False) -> None:
        """Make the host carry the networks last wanted, unless it already does.

        `rules_follow`: a port is plugged next, which loads the rules (see the backend's
        apply); until it did, they are owed and a later sync loads them."""
        if self.backend is None:
            return
        async with self._apply_lock:
            if self._wanted is None:
                return
            wanted = self._with_lingering(self._wanted)
            owed = self._rules_owed and not rules_follow
            if wanted == self._applied and not owed and not self._expecting:
                return
            expected = [port for ports in self._expected.values() for port in ports]
            self._expecting = False
            apply = functools.partial(
                self.backend.apply, wanted, rules_follow=rules_follow, expected=expected
            )
            try:
                await asyncio.to_thread(apply)
            except (RuntimeError, ValueError) as exc:  # refused by the kernel, or bad values
                log.warning("applying networks (revision %d) failed: %s", wanted.revision, exc)
                self._expecting = True
                return
            self._rules_owed = rules_follow
            if wanted != self._applied:
                names = ", ".join(n.uuid for n in wanted.networks) or "none"
                log.info("networks at revision %d applied: %s", wanted.revision, names)
            self._applied = wanted

    def expect(self, owner: str, ports: list[PortBinding]) -> None:
        """Owner's ports will be plugged soon (a container to run, a sandbox): the next
        apply loads their rules already, so that the plug on the container's way to running
        runs no nft (a standalone container is plugged only after the engine started it)."""
        if self.backend is None:
            return
        plugged = self._plugged.get(owner)
        if not ports or (plugged is not None and plugged[1] == {p.port_id: p for p in ports}):
            if self._expected.pop(owner, None) is not None:
                self._expecting = True
            return
        if self._expected.get(owner) != ports:
            self._expected[owner] = list(ports)
            self._expecting = True

    def _with_lingering(self, wanted: HostNetworks) -> HostNetworks:
        """The wanted networks and those that left lately (LINGER), unless one of them is
        wanted again or shares its VNI with a wanted one (a deleted network's VNI reused)."""
        now = asyncio.get_running_loop().time()
        uuids = {n.uuid for n in wanted.networks}
        vnis = {n.vni for n in wanted.networks}
        allowed = set(wanted.lingering)  # still exist, by the control plane's word
        for net in self._applied.networks if self._applied else []:
            if net.uuid not in uuids and net.uuid not in self._lingering:
                self._lingering[net.uuid] = (now + LINGER, net)
        for uuid, (until, net) in list(self._lingering.items()):
            gone = net.uuid not in allowed  # deleted (or too long ago): its devices go now
            if gone or net.uuid in uuids or net.vni in vnis or until <= now:
                del self._lingering[uuid]
        if not self._lingering:
            return wanted
        soonest = min(until for until, _ in self._lingering.values())
        self._expire_at(soonest - now)
        # No port here: it replicates to no one. Its peers, as they were when it left, would
        # go stale (a host removed since would keep its FDB entry here until the linger ends).
        kept = [net.model_copy(update={"peers": []}) for _, net in self._lingering.values()]
        return wanted.model_copy(update={"networks": [*wanted.networks, *kept]})

    def _expire_at(self, delay: float) -> None:
        """Sync again once the first lingering network is due to go."""
        if self._expiry is not None:
            self._expiry.cancel()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(max(delay, 0.0) + 0.1, self._expire)

    def _expire(self) -> None:
        self._expiry = None
        self._expiring = asyncio.get_running_loop().create_task(self.sync())

    async def plug(
        self, owner: str, engine_id: str, ports: list[PortBinding], *, pid: int | None = None
    ) -> None:
        """Make owner's namespace hold exactly these ports (no-op while it does not run).

        `pid`: the owner's process as an inspect just read it (a create's own start), so
        the engine is not asked again; None: the engine is asked.
        Raises RuntimeFailure when the kernel refuses (the step fails and is retried).
        """
        if self.backend is None or (not ports and owner not in self._plugged):
            return
        try:
            await self._plug_owner(owner, engine_id, ports, pid)
        finally:
            if self._rules_owed:  # no connect loaded them (nothing to plug, or it failed)
                await self.sync()

    async def _plug_owner(
        self, owner: str, engine_id: str, ports: list[PortBinding], pid: int | None
    ) -> None:
        # The networks of a batch before the ports that use them; the rules with the ports.
        await self._carrying(ports)
        async with self._locks.setdefault(owner, asyncio.Lock()):
            if pid is None:
                pid = await asyncio.to_thread(self.runtime.netns_pid, engine_id)
            if pid is None:
                return
            known_pid, known = self._plugged.get(owner, (None, {}))
            wanted = {p.port_id: p for p in ports}
            if known == wanted and known_pid == pid:
                return
            try:
                await self._plug(pid, ports, frozenset(known) - frozenset(wanted))
            except (RuntimeError, ValueError) as exc:
                raise errors.RuntimeFailure(reason=f"plugging ports of {owner}: {exc}") from exc
            self._plugged[owner] = (pid, wanted)
            self._expected.pop(owner, None)  # plugged: its rules are the backend's now

    async def _carrying(self, ports: list[PortBinding], patience: float = 15.0) -> None:
        """Until the host carries every network of these ports, or `patience` runs out (the
        plug then fails). The control plane may tell a port before its network: the next
        batch (or the next full sync) brings it."""
        deadline = asyncio.get_running_loop().time() + patience
        while True:
            self._news.clear()
            await self.sync(rules_follow=True)
            carried = {n.uuid for n in self._applied.networks} if self._applied else set()
            carried -= set(self._lingering)  # a port waits for its network's current spec
            remaining = deadline - asyncio.get_running_loop().time()
            if {p.network_id for p in ports} <= carried or remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), remaining)

    async def _plug(self, pid: int, ports: list[PortBinding], gone: frozenset[str]) -> None:
        """The kernel's part in one thread job: each hop back to the loop waits for a turn
        of it (the API's requests keep it busy), and a create's report waits for this."""
        backend = self.backend
        if backend is None:
            return
        loaded = await asyncio.to_thread(_plug_kernel, backend, pid, ports, gone)
        if loaded:
            self._rules_owed = False  # loaded with the disconnect or the connect

    async def unplug(self, owner: str) -> None:
        """The owner is gone: forget its ports (their veths went with its namespace)."""
        known = self._plugged.pop(owner, None)
        self._locks.pop(owner, None)
        if self._expected.pop(owner, None) is not None:
            self._expecting = True  # never plugged: its rules go with the next apply
        if known is not None and known[1] and self.backend is not None:
            await self._disconnect(sorted(known[1]))

    async def _disconnect(self, port_ids: list[str]) -> None:
        """Unplug ports together with those of other owners going meanwhile: a burst of
        deletes makes one disconnect (one nft load, ≈15-120 ms of CPU here) per round, not
        one per container. Raises what the backend raised for the round it was in."""
        done = asyncio.get_running_loop().create_future()
        self._leaving.append((port_ids, done))
        if self._disconnecting is None:
            self._disconnecting = asyncio.create_task(self._disconnect_rounds())
        await done

    async def _disconnect_rounds(self) -> None:
        backend = self.backend
        batch: list[tuple[list[str], asyncio.Future[None]]] = []
        try:
            while self._leaving and backend is not None:
                batch, self._leaving = self._leaving, []
                ids = sorted({port_id for ids, _ in batch for port_id in ids})
                failure: Exception | None = None
                try:
                    await asyncio.to_thread(backend.disconnect, ids)
                except Exception as exc:  # each waiting unplug raises it, as it would alone
                    failure = exc
                for _, done in batch:
                    if done.done():  # its unplug was cancelled meanwhile
                        continue
                    if failure is None:
                        done.set_result(None)
                    else:
                        done.set_exception(failure)
        finally:
            self._disconnecting = None
            for _, done in [*batch, *self._leaving]:  # cancelled: nobody is left to do them
                if not done.done():
                    done.cancel()
            self._leaving = []

    async def teardown(self) -> None:
        """Remove every network of this host (it left the cluster); nothing to do on a host
        that never carried one (a full batch always says what it carries)."""
        if self.backend is None or not self.active:
            return
        try:
            await asyncio.to_thread(self.backend.teardown)
        except RuntimeError as exc:
            log.warning("removing this host's networks failed: %s", exc)
        self._wanted = self._applied = None
        self._plugged.clear()
        self._lingering.clear()
        self._expected.clear()

    def close(self) -> None:
        """The agent stops: networks stay (containers keep running), the name server stops."""
        if self._expiry is not None:
            self._expiry.cancel()
        if self._expiring is not None:
            self._expiring.cancel()
        if self.backend is not None:
            self.backend.close()


def _plug_kernel(
    backend: NetworkBackend, pid: int, ports: list[PortBinding], gone: frozenset[str]
) -> bool:
    """Unplug `gone`, plug `ports` into pid's namespace, point its resolver at them and
    let its held command run (runtime/hold.py); whether the rules were loaded."""
    if gone:
        backend.disconnect(sorted(gone))
    if ports:
        backend.connect(pid, ports)
        backend.configure_resolver(pid, list(dict.fromkeys(p.network_id for p in ports)))
        # A standalone container's command waits for its ports; gone already, it has none
        # to wait for.
        with contextlib.suppress(ProcessLookupError):
            hold.release(pid)
    return bool(gone or ports)
