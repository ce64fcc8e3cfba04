"""FakeRuntime: an in-memory container engine for hollow hosts and fast tests.

It follows Docker Engine 20.10's answers for every transition, sandboxes included
(tests/runtime/test_contract.py runs the same suite against both). Programs are not run:
fake_shell.py models a few shell statements, and a program blocks, i.e. runs until stopped or
killed, at the first statement it does not model. The engine's state and inner workings are
in fake_engine.py, sandboxes and volumes in fake_sandbox.py.
"""

from __future__ import annotations

import base64
import posixpath
import queue
import signal as signals
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from dockyard import errors
from dockyard.runtime.base import (
    EngineContainer,
    EngineEvent,
    EngineImage,
    ExecResult,
    HostInfo,
    ProgressSink,
    PullProgress,
    RegistryAuth,
    Top,
)
from dockyard.runtime.fake_engine import (
    ALIVE,
    KILLED,
    Volume,
    image_id,
    normalize_ref,
    volume_key,
)
from dockyard.runtime.fake_files import FakeFiles
from dockyard.runtime.fake_sandbox import FakeSandboxes
from dockyard.runtime.fake_shell import STDERR, STDOUT, interpret
from dockyard.runtime.labels import KIND_SANDBOX, LABEL_CONTAINER, LABEL_HOST
from dockyard.runtime.specs import RunSpec, check_run_spec, container_labels, signal_number

MIB = 1024 * 1024
_TOP_TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]


class FakeRuntime(FakeFiles, FakeSandboxes):
    """A ContainerRuntime held in memory; thread-safe, cheap enough for hundreds per process.

    FakeRuntime(hostname="fake-host", *, images=(), missing_images=(), cpus=8,
    mem_total_mib=32768, disk_total_gib=500, runtimes=("runc",)).
    """

    # --- host and images ---------------------------------------------------------------

    def host_info(self) -> HostInfo:
        """The capacity this fake host was configured with."""
        return self._info

    def has_image(self, ref: str) -> bool:
        """Whether ref was given at construction or pulled since."""
        with self._lock:
            return normalize_ref(ref) in self._images

    def pull_image(
        self, ref: str, auth: RegistryAuth | None = None, progress: ProgressSink | None = None
    ) -> None:
        """Every pull succeeds except of the configured missing images; one progress step."""
        normalized = normalize_ref(ref)
        if normalized in self._missing:
            raise errors.ImageNotFound(ref=ref)
        if progress is not None:
            progress(PullProgress(layer=image_id(normalized)[7:19], status="Pull complete"))
        with self._lock:
            self._images.add(normalized)

    def image_info(self, ref: str) -> EngineImage | None:
        """The image if it was given or pulled; its size is 0 (a fake has no layers)."""
        normalized = normalize_ref(ref)
        with self._lock:
            if normalized not in self._images:
                return None
        return EngineImage(id=image_id(normalized), size=0, tags=[normalized])

    def remove_image(self, ref: str) -> None:
        """As the engine: absent is RuntimeNotFound; used by any container, RuntimeConflict."""
        normalized = normalize_ref(ref)
        with self._lock:
            if normalized not in self._images:
                raise errors.RuntimeNotFound(ident=ref)
            if any(normalize_ref(b.spec.image) == normalized for b in self._containers.values()):
                raise errors.RuntimeConflict(reason=f"image {ref} is used by a container")
            self._images.discard(normalized)
            self._image_files.pop(normalized, None)

    # --- queries -----------------------------------------------------------------------

    def list_containers(self, host: str) -> list[EngineContainer]:
        """Like docker's list endpoint: no exit code, times or hostname; no sandboxes."""
        with self._lock:
            boxes = [
                box
                for box in self._containers.values()
                if box.labels[LABEL_HOST] == host and box.kind != KIND_SANDBOX
            ]
            return [self._view(box, full=False) for box in boxes]

    def find_container(self, uuid: str) -> EngineContainer | None:
        """The container labelled with this uuid, or None."""
        with self._lock:
            for box in self._containers.values():
                if box.labels.get(LABEL_CONTAINER) == uuid:
                    return self._view(box, full=True)
        return None

    def inspect(self, engine_id: str) -> EngineContainer:
        """The full view of one container."""
        with self._lock:
            return self._view(self._get(engine_id), full=True)

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
        wanted = {STDOUT} if stdout else set()
        wanted |= {STDERR} if stderr else set()
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
                "name": f"/{box.name}",
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
        check_run_spec(spec)
        with self._lock:
            box = self._add(f"dockyard-{spec.uuid}", spec, container_labels(spec))
            for mount in spec.volumes:  # docker creates a missing volume, labelled (docker_spec)
                key = volume_key(box.id, mount)
                self._volumes.setdefault(key, Volume(name=key, labels={LABEL_HOST: spec.host}))
            for item in spec.files:  # written into its layer before the first start
                box.files[posixpath.normpath(item.destination)] = base64.b64decode(item.content)
            return box.id

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
            if box.state in ALIVE:
                self._emit(box, "kill")
                self._exit(box, box.traps.get(signals.SIGTERM, KILLED), by_user=True)
                self._emit(box, "stop")

    def restart(self, engine_id: str, timeout: int | None = None) -> None:
        """Stop if running or paused, then start."""
        with self._lock:
            box = self._get(engine_id)
            if box.state in ALIVE:
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
            self._force_remove(box)

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
            run = interpret(command, interactive=False, machine=self._machine(box))
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


def _timestamp(at: datetime) -> str:
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}000Z"
