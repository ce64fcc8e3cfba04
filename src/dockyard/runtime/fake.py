"""FakeRuntime: an in-memory container engine for hollow hosts and fast tests.

It follows Docker Engine 20.10's answers for every transition (tests/runtime/test_contract.py
runs the same suite against both). Programs are not run: a tiny interpreter models `echo`,
`exit N`, `true`, `false`, `:` and `trap 'exit N' SIG` (in `sh -c` scripts or as argv); at the
first statement it does not model the program blocks, i.e. runs until stopped or killed.
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import shlex
import signal as signals
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dockyard import errors
from dockyard.runtime.base import (
    LABEL_CONTAINER,
    LABEL_GENERATION,
    LABEL_HOST,
    LABEL_PROJECT,
    EngineContainer,
    EngineEvent,
    ExecResult,
    HostInfo,
    RunSpec,
    Top,
    signal_number,
)

MIB = 1024 * 1024
KILLED = 128 + signals.SIGKILL  # the exit code docker reports for SIGKILL
_TOP_TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
_STDOUT, _STDERR = "stdout", "stderr"
_ALIVE = ("running", "paused", "restarting")  # states that stop, restart and remove end


@dataclass
class _Run:
    """What running a program produced: output lines, exit code (None: still running), traps."""

    output: list[tuple[str, bytes]] = field(default_factory=list)
    exit_code: int | None = None
    traps: dict[int, int] = field(default_factory=dict)  # signal number → exit code


@dataclass
class _Container:
    id: str
    spec: RunSpec
    created_at: datetime
    state: str = "created"
    exit_code: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    ip: str | None = None
    traps: dict[int, int] = field(default_factory=dict)
    log: list[tuple[str, bytes, datetime]] = field(default_factory=list)
    memory_mib: int | None = None
    cpu: float | None = None

    @property
    def argv(self) -> list[str]:
        return [*(self.spec.entrypoint or []), *(self.spec.command or [])]


class FakeRuntime:
    """A ContainerRuntime held in memory; thread-safe, cheap enough for hundreds per process."""

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
        self._images = {_normalize_ref(ref) for ref in images}
        self._missing = {_normalize_ref(ref) for ref in missing_images}
        self._containers: dict[str, _Container] = {}
        self._names: dict[str, str] = {}  # engine name → id
        self._subscribers: dict[str, list[queue.SimpleQueue[EngineEvent]]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._ips = itertools.count(0)

    # --- host and images ---------------------------------------------------------------

    def host_info(self) -> HostInfo:
        """The capacity this fake host was configured with."""
        return self._info

    def has_image(self, ref: str) -> bool:
        """Whether ref was given at construction or pulled since."""
        with self._lock:
            return _normalize_ref(ref) in self._images

    def pull_image(self, ref: str) -> None:
        """Every pull succeeds except of the configured missing images."""
        normalized = _normalize_ref(ref)
        if normalized in self._missing:
            raise errors.ImageNotFound(ref=ref)
        with self._lock:
            self._images.add(normalized)

    # --- queries -----------------------------------------------------------------------

    def list_containers(self, host: str) -> list[EngineContainer]:
        """Like docker's list endpoint: no exit code, times or hostname (inspect has those)."""
        with self._lock:
            boxes = [c for c in self._containers.values() if c.spec.host == host]
            return [_view(c, full=False) for c in boxes]

    def find_container(self, uuid: str) -> EngineContainer | None:
        """The container labelled with this uuid, or None."""
        with self._lock:
            for box in self._containers.values():
                if box.spec.uuid == uuid:
                    return _view(box, full=True)
        return None

    def inspect(self, engine_id: str) -> EngineContainer:
        """The full view of one container."""
        with self._lock:
            return _view(self._get(engine_id), full=True)

    def logs(
        self,
        engine_id: str,
        *,
        stdout: bool = True,
        stderr: bool = True,
        tail: int | None = None,
        since: datetime | None = None,
        timestamps: bool = False,
    ) -> bytes:
        """What the modelled programs printed, in order."""
        with self._lock:
            entries = list(self._get(engine_id).log)
        if since is not None:
            entries = [entry for entry in entries if entry[2] >= since]
        # Docker takes the tail of the log before it filters the streams.
        if tail is not None:
            entries = entries[-tail:] if tail > 0 else []
        wanted = {_STDOUT} if stdout else set()
        wanted |= {_STDERR} if stderr else set()
        return b"".join(
            (_timestamp(at).encode() + b" " if timestamps else b"") + line
            for stream, line, at in entries
            if stream in wanted
        )

    def top(self, engine_id: str, ps_args: str | None = None) -> Top:
        """One process, PID 1, with the container's command line."""
        with self._lock:
            box = self._get(engine_id)
            self._require_running(box, paused_ok=True)
            started = box.started_at or box.created_at
            row = ["root", "1000", "999", "0", f"{started:%H:%M}", "?", "00:00:00"]
            return Top(titles=list(_TOP_TITLES), processes=[[*row, " ".join(box.argv)]])

    def stats(self, engine_id: str) -> dict[str, object]:
        """A stats document shaped like docker's, with idle numbers."""
        with self._lock:
            box = self._get(engine_id)
            running = box.state in ("running", "paused")
            limit = (box.memory_mib or box.spec.memory_mib or self._info.mem_total_mib) * MIB
            cpu: dict[str, object] = {
                "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
                "system_cpu_usage": 0,
                "online_cpus": self._info.cpus,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
            }
            return {
                "read": _timestamp(datetime.now(UTC)),
                "preread": _timestamp(datetime.now(UTC)),
                "id": box.id,
                "name": f"/dockyard-{box.spec.uuid}",
                "pids_stats": {"current": 1} if running else {},
                "blkio_stats": {},
                "num_procs": 0,
                "storage_stats": {},
                "cpu_stats": cpu,
                "precpu_stats": cpu,
                "memory_stats": {"usage": MIB, "limit": limit, "stats": {}} if running else {},
            }

    # --- lifecycle ---------------------------------------------------------------------

    def create(self, spec: RunSpec) -> str:
        """Register a container in state created; ImageNotFound if the image is absent."""
        name = f"dockyard-{spec.uuid}"
        with self._lock:
            if _normalize_ref(spec.image) not in self._images:
                raise errors.ImageNotFound(ref=spec.image)
            if name in self._names:
                raise errors.RuntimeConflict(reason=f'The container name "/{name}" is in use.')
            engine_id = hashlib.sha256(f"{id(self)}-{next(self._ids)}".encode()).hexdigest()
            box = _Container(id=engine_id, spec=spec, created_at=datetime.now(UTC))
            box.memory_mib, box.cpu = spec.memory_mib, spec.cpu
            self._containers[engine_id] = box
            self._names[name] = engine_id
            self._emit(box, "create")
            return engine_id

    def start(self, engine_id: str) -> None:
        """Run the modelled program; a running container is left as it is (docker's 304)."""
        with self._lock:
            box = self._get(engine_id)
            if box.state == "paused":
                raise errors.RuntimeConflict(reason="cannot start a paused container")
            if box.state != "running":
                self._run(box)

    def stop(self, engine_id: str, timeout: int | None = None) -> None:
        """SIGTERM, answered by a trap or else SIGKILL; no-op unless running or paused."""
        with self._lock:
            box = self._get(engine_id)
            if box.state in _ALIVE:
                self._emit(box, "kill")
                self._exit(box, box.traps.get(signals.SIGTERM, KILLED), by_user=True)
                self._emit(box, "stop")

    def restart(self, engine_id: str, timeout: int | None = None) -> None:
        """Stop if running or paused, then start."""
        with self._lock:
            box = self._get(engine_id)
            if box.state in _ALIVE:
                self._emit(box, "kill")
                self._exit(box, box.traps.get(signals.SIGTERM, KILLED), by_user=True, keep=True)
                self._emit(box, "stop")
            self._run(box)
            self._emit(box, "restart")

    def pause(self, engine_id: str) -> None:
        """Freeze; RuntimeConflict unless running (docker's 409)."""
        with self._lock:
            box = self._get(engine_id)
            if box.state == "paused":
                raise errors.RuntimeConflict(reason=f"Container {box.id} is already paused")
            self._require_running(box)
            box.state = "paused"
            self._emit(box, "pause")

    def unpause(self, engine_id: str) -> None:
        """Thaw; RuntimeFailure unless paused (Docker 20.10 answers 500, not 409)."""
        with self._lock:
            box = self._get(engine_id)
            if box.state != "paused":
                raise errors.RuntimeFailure(reason=f"Container {box.id} is not paused")
            box.state = "running"
            self._emit(box, "unpause")

    def kill(self, engine_id: str, signal: str | None = None) -> None:
        """Deliver a signal to PID 1: SIGKILL kills, a trapped one exits, others are ignored."""
        number = signal_number(signal)
        with self._lock:
            box = self._get(engine_id)
            self._require_running(box, paused_ok=True)
            self._emit(box, "kill")
            if number == signals.SIGKILL:
                self._exit(box, KILLED, by_user=True)
            elif number in box.traps:
                self._exit(box, box.traps[number], by_user=True)

    def remove(self, engine_id: str) -> None:
        """Forget the container whatever its state; a missing one is not an error."""
        with self._lock:
            box = self._find(engine_id)
            if box is None:
                return
            if box.state in _ALIVE:
                self._emit(box, "kill")
                self._exit(box, KILLED, by_user=True)
            self._drop(box)

    def update_resources(self, engine_id: str, cpu: float | None, memory_mib: int | None) -> None:
        """Record new limits; None leaves a limit unchanged."""
        with self._lock:
            box = self._get(engine_id)
            box.cpu = cpu if cpu else box.cpu
            box.memory_mib = memory_mib if memory_mib else box.memory_mib
            self._emit(box, "update")

    def exec(self, engine_id: str, command: list[str], timeout: float) -> ExecResult:
        """Interpret command; a statement the fake does not model never ends (ExecTimeout)."""
        with self._lock:
            box = self._get(engine_id)
            if box.state == "paused":
                raise errors.RuntimeConflict(reason=f"Container {box.id} is paused")
            self._require_running(box)
        run = _interpret(command, interactive=False)
        if run.exit_code is None:
            raise errors.ExecTimeout(timeout=timeout)
        return ExecResult(output=b"".join(line for _, line in run.output), exit_code=run.exit_code)

    def events(self, host: str, stop: threading.Event) -> Iterator[EngineEvent]:
        """Events of this host's containers until stop; subscribed before this returns."""
        inbox: queue.SimpleQueue[EngineEvent] = queue.SimpleQueue()
        with self._lock:
            self._subscribers.setdefault(host, []).append(inbox)
        return self._drain(host, inbox, stop)

    def _drain(
        self, host: str, inbox: queue.SimpleQueue[EngineEvent], stop: threading.Event
    ) -> Iterator[EngineEvent]:
        try:
            while not stop.is_set():
                try:
                    yield inbox.get(timeout=0.2)  # the wait bounds how late stop is seen
                except queue.Empty:
                    continue
        finally:
            with self._lock:
                self._subscribers[host].remove(inbox)

    # --- internals (called with the lock held) -----------------------------------------

    def _find(self, engine_id: str) -> _Container | None:
        box = self._containers.get(engine_id)
        if box is None and engine_id in self._names:
            box = self._containers.get(self._names[engine_id])
        return box

    def _get(self, engine_id: str) -> _Container:
        box = self._find(engine_id)
        if box is None:
            raise errors.RuntimeNotFound(ident=engine_id)
        return box

    @staticmethod
    def _require_running(box: _Container, *, paused_ok: bool = False) -> None:
        if box.state != "running" and not (paused_ok and box.state == "paused"):
            raise errors.RuntimeConflict(reason=f"Container {box.id} is not running")

    def _run(self, box: _Container) -> None:
        run = _interpret(box.argv, interactive=box.spec.interactive)
        now = datetime.now(UTC)
        box.state, box.started_at, box.traps = "running", now, run.traps
        n = next(self._ips)
        box.ip = f"172.17.{n // 250 % 250}.{n % 250 + 2}"
        box.log.extend((stream, line, now) for stream, line in run.output)
        self._emit(box, "start")
        if run.exit_code is not None:
            self._exit(box, run.exit_code, by_user=False)

    def _exit(self, box: _Container, code: int, *, by_user: bool, keep: bool = False) -> None:
        box.exit_code, box.finished_at, box.ip, box.traps = code, datetime.now(UTC), None, {}
        box.state = "exited"
        self._emit(box, "die")
        policy = box.spec.restart_policy
        # Docker restarts with a growing back-off; a container that keeps exiting is seen
        # "restarting", which is where the fake leaves it.
        if not by_user and (
            policy.name in ("always", "unless-stopped") or (policy.name == "on-failure" and code)
        ):
            box.state = "restarting"
        elif box.spec.auto_remove and not keep:  # a restart does not remove it
            self._drop(box)

    def _drop(self, box: _Container) -> None:
        self._containers.pop(box.id, None)
        self._names.pop(f"dockyard-{box.spec.uuid}", None)
        self._emit(box, "destroy")

    def _emit(self, box: _Container, action: str) -> None:
        for inbox in self._subscribers.get(box.spec.host, ()):
            inbox.put(EngineEvent(uuid=box.spec.uuid, action=action))


def _view(box: _Container, *, full: bool) -> EngineContainer:
    spec = box.spec
    labels = {
        **spec.labels,
        LABEL_CONTAINER: spec.uuid,
        LABEL_HOST: spec.host,
        LABEL_PROJECT: spec.project_id,
        LABEL_GENERATION: str(spec.generation),
    }
    return EngineContainer(
        id=box.id,
        uuid=spec.uuid,
        state=box.state,
        exit_code=box.exit_code if full else None,
        started_at=box.started_at if full else None,
        finished_at=box.finished_at if full else None,
        ip_addresses=[box.ip] if box.ip else [],
        # Docker's list endpoint shows the ports of running containers only.
        ports=sorted({port for port, _ in spec.exposed_ports}) if full or box.ip else [],
        hostname=(spec.hostname or box.id[:12]) if full else None,
        image_id="sha256:" + hashlib.sha256(_normalize_ref(spec.image).encode()).hexdigest(),
        labels=labels,
    )


def _interpret(argv: list[str], *, interactive: bool) -> _Run:
    if not argv:
        return _Run()  # the image's default command: not modelled, so it runs
    if argv[0].rsplit("/", 1)[-1] in ("sh", "ash", "bash"):
        if len(argv) >= 3 and argv[1] == "-c":
            return _interpret_script(argv[2])
        # A shell with no script reads stdin: it waits if stdin is open, else ends at once.
        return _Run() if interactive else _Run(exit_code=0)
    run = _interpret_statements([list(argv)])
    if run.exit_code is None and not run.output:
        # A program the fake does not model, e.g. a server: announce it, and let it shut
        # down cleanly on SIGTERM/SIGINT as servers do.
        run.output.append((_STDOUT, shlex.join(argv).encode() + b"\n"))
        run.traps = {signals.SIGTERM: 0, signals.SIGINT: 0}
    return run


def _interpret_script(script: str) -> _Run:
    lexer = shlex.shlex(script.replace("\n", ";"), posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    statements: list[list[str]] = [[]]
    for token in lexer:
        if token == ";":
            statements.append([])
        else:
            statements[-1].append(token)
    return _interpret_statements([words for words in statements if words])


def _interpret_statements(statements: list[list[str]]) -> _Run:
    run, status = _Run(), 0
    for words in statements:
        stream = _STDOUT
        if words[-2:] == [">&", "2"]:
            stream, words = _STDERR, words[:-3] if words[-3:-2] == ["1"] else words[:-2]
        name, args = words[0], words[1:]
        if any(word in (">&", "&", "|", "&&", "||", "<", ">", "(", ")") for word in words):
            return run  # not modelled: blocks here
        if name == "echo":
            run.output.append((stream, " ".join(args).encode() + b"\n"))
            status = 0
        elif name in ("true", ":"):
            status = 0
        elif name == "false":
            status = 1
        elif name == "exit":
            run.exit_code = int(args[0]) % 256 if args else status
            return run
        elif name == "trap" and len(args) >= 2 and args[0].startswith("exit"):
            code = int(args[0].split()[1]) if len(args[0].split()) > 1 else 0
            run.traps.update({_trap_signal(sig): code for sig in args[1:]})
            status = 0
        else:
            return run  # not modelled: blocks here
    run.exit_code = status
    return run


def _trap_signal(name: str) -> int:
    # EXIT (0) and unknown names trap nothing a kill could deliver.
    try:
        return signal_number(name)
    except errors.InvalidValue:
        return 0


def _normalize_ref(ref: str) -> str:
    name = ref.split("@", 1)[0]
    if "@" in ref or ":" in name.rsplit("/", 1)[-1]:
        return ref
    return f"{ref}:latest"


def _timestamp(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}000Z"
