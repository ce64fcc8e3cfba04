"""The state and inner workings of FakeRuntime: containers, namespaces, volumes, events.

Every method here expects the caller to hold `_lock`; the public methods (fake.py,
fake_sandbox.py) take it.
"""

from __future__ import annotations

import hashlib
import itertools
import posixpath
import queue
import signal as signals
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dockyard import errors
from dockyard.runtime.base import EngineContainer, EngineEvent, HostInfo
from dockyard.runtime.fake_shell import Machine, interpret
from dockyard.runtime.labels import (
    KIND_CONTAINER,
    KIND_SANDBOX,
    LABEL_CONTAINER,
    LABEL_HOST,
    LABEL_KIND,
)
from dockyard.runtime.specs import RunSpec, VolumeMount

KILLED = 128 + signals.SIGKILL  # the exit code docker reports for SIGKILL
START_FAILED = 128  # the exit code docker records when a start fails
ALIVE = ("running", "paused", "restarting")  # states that stop, restart and remove end
_HOLDS_NAMESPACES = ("running", "paused")


@dataclass
class Box:
    """One fake engine container (a sandbox's infra container too)."""

    id: str
    name: str
    spec: RunSpec
    labels: dict[str, str]
    created_at: datetime
    hostname: str = ""  # the engine's Config.Hostname
    state: str = "created"
    exit_code: int = 0
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    ip: str | None = None
    netns: int = 0  # the network namespace it is in: each start of an owner makes a new one
    traps: dict[int, int] = field(default_factory=dict)
    log: list[tuple[str, bytes, datetime]] = field(default_factory=list)
    memory_mib: int | None = None
    cpu: float | None = None
    files: dict[str, bytes] = field(default_factory=dict)  # its own writable layer
    dirs: set[str] = field(default_factory=set)  # directories made in it (put_archive)
    shm: dict[str, bytes] = field(default_factory=dict)  # /dev/shm of its IPC namespace

    @property
    def argv(self) -> list[str]:
        return [*(self.spec.entrypoint or []), *(self.spec.command or [])]

    @property
    def kind(self) -> str:
        return self.labels.get(LABEL_KIND, KIND_CONTAINER)


@dataclass
class Volume:
    name: str
    labels: dict[str, str]
    files: dict[str, bytes] = field(default_factory=dict)


class FakeEngine:
    """In-memory engine state shared by the FakeRuntime's container and sandbox halves."""

    def __init__(
        self,
        hostname: str = "fake-host",
        *,
        images: Iterable[str] = (),
        missing_images: Iterable[str] = (),
        cpus: int = 8,
        mem_total_mib: int = 32768,
        disk_total_gib: int = 500,
        runtimes: Iterable[str] = ("runc",),
    ) -> None:
        self._info = HostInfo(
            hostname=hostname,
            cpus=cpus,
            mem_total_mib=mem_total_mib,
            disk_total_gib=disk_total_gib,
            architecture="x86_64",
            os_type="linux",
            os="Dockyard FakeRuntime",
            kernel_version="6.1.0-fake",
            runtimes=sorted(runtimes),
            engine_version="20.10.24-fake",
        )
        self._images = {normalize_ref(ref) for ref in images}
        self._missing = {normalize_ref(ref) for ref in missing_images}
        # What a committed image holds: its files and directories, given to its containers.
        self._image_files: dict[str, tuple[dict[str, bytes], set[str]]] = {}
        self._containers: dict[str, Box] = {}
        self._names: dict[str, str] = {}  # engine name → id
        self._volumes: dict[str, Volume] = {}
        self._subscribers: dict[str, list[queue.SimpleQueue[EngineEvent]]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified whenever a container exits
        self._ids = itertools.count(1)
        self._ips = itertools.count(0)
        self._netns = itertools.count(1)

    def _add(self, name: str, spec: RunSpec, labels: dict[str, str]) -> Box:
        if normalize_ref(spec.image) not in self._images:
            raise errors.ImageNotFound(ref=spec.image)
        if name in self._names:
            raise errors.RuntimeConflict(reason=f'The container name "/{name}" is in use.')
        engine_id = hashlib.sha256(f"{id(self)}-{next(self._ids)}".encode()).hexdigest()
        box = Box(id=engine_id, name=name, spec=spec, labels=labels, created_at=datetime.now(UTC))
        # A joining container shows its own default until it starts and takes its sandbox's.
        joined = spec.sandbox_engine_id is not None
        box.hostname = (None if joined else spec.hostname) or engine_id[:12]
        box.memory_mib, box.cpu = spec.memory_mib, spec.cpu
        files, dirs = self._image_files.get(normalize_ref(spec.image), ({}, set()))
        box.files, box.dirs = dict(files), set(dirs)
        self._containers[engine_id] = box
        self._names[name] = engine_id
        self._emit(box, "create")
        return box

    def _find(self, engine_id: str) -> Box | None:
        box = self._containers.get(engine_id)
        if box is None and engine_id in self._names:
            box = self._containers.get(self._names[engine_id])
        return box

    def _get(self, engine_id: str) -> Box:
        box = self._find(engine_id)
        if box is None:
            raise errors.RuntimeNotFound(ident=engine_id)
        return box

    def _owner(self, box: Box) -> Box | None:
        """The sandbox whose namespaces box joined (None: box owns its own, or it is gone)."""
        sandbox_id = box.spec.sandbox_engine_id
        return self._find(sandbox_id) if sandbox_id is not None else None

    @staticmethod
    def _require_running(box: Box, *, paused_ok: bool = False) -> None:
        if box.state != "running" and not (paused_ok and box.state == "paused"):
            raise errors.RuntimeConflict(reason=f"Container {box.id} is not running")

    def _run(self, box: Box) -> None:
        self._enter_namespaces(box)
        now = datetime.now(UTC)
        box.state, box.started_at, box.error = "running", now, None
        run = interpret(box.argv, interactive=box.spec.interactive, machine=self._machine(box))
        box.traps = run.traps
        box.log.extend((stream, line, now) for stream, line in run.output)
        self._emit(box, "start")
        if run.exit_code is not None:
            self._exit(box, run.exit_code, by_user=False)

    def _enter_namespaces(self, box: Box) -> None:
        if box.spec.sandbox_engine_id is None:  # new namespaces, as docker makes per start
            n = next(self._ips)
            address = f"172.17.{n // 250 % 250}.{n % 250 + 2}" if box.spec.engine_network else None
            box.ip, box.netns = address, next(self._netns)
            box.shm.clear()
            return
        owner = self._owner(box)
        problem = None
        if owner is None:
            problem = f"its sandbox {box.spec.sandbox_engine_id} is gone"
        elif owner.state not in _HOLDS_NAMESPACES:
            problem = f"its sandbox {owner.id} is {owner.state}"
        if problem is not None or owner is None:
            box.exit_code, box.error = START_FAILED, problem
            raise errors.RuntimeConflict(reason=problem)
        # Docker gives a joining container a UTS namespace of its own, with a copy of the
        # sandbox's hostname made at each start.
        box.ip, box.netns, box.hostname = None, owner.netns, owner.hostname

    def _exit(self, box: Box, code: int, *, by_user: bool, keep: bool = False) -> None:
        box.exit_code, box.finished_at, box.ip, box.traps = code, datetime.now(UTC), None, {}
        box.state = "exited"
        self._emit(box, "die")
        self._changed.notify_all()
        self._kill_pid_sharers(box)
        policy = box.spec.restart_policy
        # Docker restarts with a growing back-off; a container that keeps exiting is seen
        # "restarting", which is where the fake leaves it.
        if not by_user and (
            policy.name in ("always", "unless-stopped") or (policy.name == "on-failure" and code)
        ):
            box.state = "restarting"
        elif box.spec.auto_remove and not keep:  # a restart does not remove it
            self._drop(box)

    def _kill_pid_sharers(self, box: Box) -> None:
        # When PID 1 of a PID namespace dies the kernel kills every other process in it.
        for other in list(self._containers.values()):
            if other.spec.share_pid and other.state in ALIVE and self._owner(other) is box:
                self._exit(other, KILLED, by_user=False)

    def _force_remove(self, box: Box) -> None:
        if box.state in ALIVE:
            self._emit(box, "kill")
            self._exit(box, KILLED, by_user=True)
        self._drop(box)

    def _drop(self, box: Box) -> None:
        if self._containers.pop(box.id, None) is None:
            return  # auto-removed on the way here
        for mount in box.spec.volumes:  # as `docker rm -v`: its anonymous volumes go too
            if not mount.name:
                self._volumes.pop(volume_key(box.id, mount), None)
        self._names.pop(box.name, None)
        self._emit(box, "destroy")
        self._changed.notify_all()

    def _emit(self, box: Box, action: str) -> None:
        uuid = box.labels.get(LABEL_CONTAINER)
        if uuid is None:  # sandboxes: docker's events carry no container label to report
            return
        for inbox in self._subscribers.get(box.labels[LABEL_HOST], ()):
            inbox.put(EngineEvent(uuid=uuid, action=action))

    def _machine(self, box: Box) -> Machine:
        return Machine(hostname=box.hostname, files=_BoxFiles(self, box))

    def _view(self, box: Box, *, full: bool) -> EngineContainer:
        spec, joined = box.spec, box.spec.sandbox_engine_id is not None
        owner = self._owner(box) if joined else box  # its namespace's: as netns_pid says
        # Docker's list endpoint shows the ports of running containers only; a joined one
        # has none (the engine refuses them).
        ports = (
            sorted({p for p, _ in spec.exposed_ports}) if (full or box.ip) and not joined else []
        )
        return EngineContainer(
            id=box.id,
            uuid=box.labels.get(LABEL_CONTAINER, ""),
            state=box.state,
            exit_code=box.exit_code if full else None,
            error=box.error if full else None,
            started_at=box.started_at if full else None,
            finished_at=box.finished_at if full else None,
            ip_addresses=self._addresses(box, full=full),
            ports=ports,
            hostname=box.hostname if full else None,
            image_id=image_id(normalize_ref(spec.image)),
            labels=dict(box.labels),
            kind=box.kind,
            sandbox_id=spec.sandbox_engine_id,
            pid=owner.netns if full and box.state == "running" and owner is not None else None,
        )

    def _addresses(self, box: Box, *, full: bool) -> list[str]:
        if box.spec.sandbox_engine_id is None:
            return [box.ip] if box.ip else []
        owner = self._owner(box)
        if owner is None or owner.ip is None or box.state not in _HOLDS_NAMESPACES:
            return []
        # Like DockerRuntime: inspect (full) sees that a container whose sandbox restarted
        # after it is stranded in the old namespace; the list view cannot tell.
        return [owner.ip] if not full or owner.netns == box.netns else []

    def _sandbox_boxes(self) -> list[Box]:
        return [box for box in self._containers.values() if box.kind == KIND_SANDBOX]


class _BoxFiles:
    """Files as a container sees them: /dev/shm of its IPC namespace, volumes, its layer."""

    def __init__(self, engine: FakeEngine, box: Box) -> None:
        self._engine, self._box = engine, box

    def read(self, path: str) -> bytes | None:
        store, key, _ = self._place(path)
        return store.get(key)

    def write(self, path: str, data: bytes, *, append: bool) -> str | None:
        store, key, read_only = self._place(path)
        if read_only:
            return "Read-only file system"
        store[key] = (store.get(key, b"") if append else b"") + data
        return None

    def _place(self, path: str) -> tuple[dict[str, bytes], str, bool]:
        box = self._box
        path = posixpath.normpath(posixpath.join(box.spec.workdir or "/", path))
        if path.startswith("/dev/shm/"):  # noqa: S108 - a path inside the fake container
            owner = self._engine._owner(box) or box
            return owner.shm, path, False
        for mount in box.spec.volumes:
            root = posixpath.normpath(mount.destination)
            volume = self._engine._volumes.get(volume_key(box.id, mount))
            if volume is not None and path.startswith(root + "/"):
                return volume.files, path[len(root) :], mount.read_only
        return box.files, path, False


def volume_key(box_id: str, mount: VolumeMount) -> str:
    """A volume's key: its name, or for an anonymous one its container and path."""
    return mount.name or f"anonymous:{box_id}:{mount.destination}"


def normalize_ref(ref: str) -> str:
    name = ref.split("@", 1)[0]
    if "@" in ref or ":" in name.rsplit("/", 1)[-1]:
        return ref
    return f"{ref}:latest"


def image_id(normalized: str) -> str:
    """A fake image's id: stable for its (normalized) reference."""
    return "sha256:" + hashlib.sha256(normalized.encode()).hexdigest()
