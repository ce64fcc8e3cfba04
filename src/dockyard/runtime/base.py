"""The ContainerRuntime port: what the agent needs from a host's container engine, and
what the engine answers. The requests live in specs.py, the labelling in labels.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from dockyard.runtime.labels import KIND_CONTAINER
from dockyard.runtime.specs import RunSpec, SandboxSpec


@dataclass(frozen=True)
class EngineContainer:
    """What the engine says about one labelled container."""

    id: str
    uuid: str  # the io.dockyard.container label
    state: str  # created | running | paused | restarting | exited | dead | removing
    exit_code: int | None = None
    error: str | None = None
    started_at: datetime | None = None  # tz-aware UTC; None if never started
    finished_at: datetime | None = None  # tz-aware UTC; None if never finished
    ip_addresses: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)  # exposed container ports
    hostname: str | None = None
    image_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    kind: str = KIND_CONTAINER  # the io.dockyard.kind label
    sandbox_id: str | None = None  # engine id of the sandbox it joined, if any
    pid: int | None = None  # its main process while it runs (an inspect's; a list has none)


@dataclass(frozen=True)
class EngineSandbox:
    """What the engine says about one sandbox; list_sandboxes leaves hostname and
    started_at None (the engine's list has neither), find/inspect_sandbox fill them."""

    id: str
    uuid: str | None  # None: a free pool sandbox
    pooled: bool  # True only while free; a claimed one has its uuid
    state: str
    ip_addresses: list[str] = field(default_factory=list)
    hostname: str | None = None
    started_at: datetime | None = None


@dataclass(frozen=True)
class HostInfo:
    hostname: str
    cpus: int
    mem_total_mib: int
    disk_total_gib: int
    architecture: str
    os_type: str
    os: str
    kernel_version: str
    runtimes: list[str]
    engine_version: str = ""


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for one private registry, as the engine takes them for a pull."""

    server: str  # the registry's domain (host[:port])
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class PullProgress:
    """One step of a pull: a layer's status and, while it downloads, bytes done of total."""

    layer: str
    status: str
    current: int = 0
    total: int = 0


@dataclass(frozen=True)
class EngineImage:
    id: str
    size: int  # bytes
    tags: list[str]


ProgressSink = Callable[[PullProgress], None]


@dataclass(frozen=True)
class ExecResult:
    output: bytes
    exit_code: int | None


@dataclass(frozen=True)
class EngineEvent:
    """A change the engine reports for a labelled container (create, start, die, ...)."""

    uuid: str
    action: str


# The largest tar get_archive returns: it travels whole, in JSON, through the control plane.
MAX_ARCHIVE = 64 * 1024 * 1024
MODE_DIR = 1 << 31  # the engine's stat mode bit of a directory (Go's os.ModeDir)


@dataclass(frozen=True)
class Top:
    titles: list[str]
    processes: list[list[str]]


class ContainerRuntime(Protocol):
    """A host's container engine, synchronous; the agent calls it from worker threads.

    Every method that names a container takes the engine id. Missing containers raise
    `RuntimeNotFound`; any other engine failure raises `RuntimeFailure` (see errors.py).
    """

    def host_info(self) -> HostInfo: ...

    def list_containers(self, host: str) -> list[EngineContainer]:
        """All containers labelled with io.dockyard.host=host, in any state; no sandboxes."""
        ...

    def find_container(self, uuid: str) -> EngineContainer | None:
        """The container labelled io.dockyard.container=uuid, or None."""
        ...

    def inspect(self, engine_id: str) -> EngineContainer: ...

    def has_image(self, ref: str) -> bool: ...

    def pull_image(
        self, ref: str, auth: RegistryAuth | None = None, progress: ProgressSink | None = None
    ) -> None:
        """Pull ref (with auth's credentials), telling progress each step; raise
        ImageNotFound when the registry does not have it, RuntimeFailure when it refuses."""
        ...

    def image_info(self, ref: str) -> EngineImage | None:
        """The local image ref, or None."""
        ...

    def remove_image(self, ref: str) -> None:
        """Remove the local image ref; RuntimeNotFound if absent, RuntimeConflict if a
        container uses it."""
        ...

    def create(self, spec: RunSpec) -> str:
        """Create (not start) the container; return its engine id."""
        ...

    def start(self, engine_id: str) -> None: ...

    def stop(self, engine_id: str, timeout: int | None = None) -> None: ...

    def restart(self, engine_id: str, timeout: int | None = None) -> None: ...

    def pause(self, engine_id: str) -> None: ...

    def unpause(self, engine_id: str) -> None: ...

    def kill(self, engine_id: str, signal: str | None = None) -> None: ...

    def remove(self, engine_id: str) -> None:
        """Remove the container whatever its state; a missing one is not an error."""
        ...

    def update_resources(
        self, engine_id: str, cpu: float | None, memory_mib: int | None
    ) -> None: ...

    def logs(
        self,
        engine_id: str,
        *,
        stdout: bool = True,
        stderr: bool = True,
        tail: int | None = None,
        since: datetime | None = None,
        timestamps: bool = False,
    ) -> bytes: ...

    def exec(self, engine_id: str, command: list[str], timeout: float) -> ExecResult: ...

    def top(self, engine_id: str, ps_args: str | None = None) -> Top: ...

    def get_archive(self, engine_id: str, path: str) -> tuple[bytes, dict[str, object]]:
        """A tar of path (a file or a directory) in the container and path's stat (Zun's
        keys: name, size, mode, mtime, linkTarget); RuntimeNotFound if path is missing,
        InvalidValue if the tar exceeds MAX_ARCHIVE bytes."""
        ...

    def put_archive(self, engine_id: str, path: str, data: bytes) -> None:
        """Extract the tar data into the directory path of the container; RuntimeNotFound if
        path is missing, InvalidValue if it is not a directory or data is not a tar."""
        ...

    def commit(self, engine_id: str, repository: str, tag: str) -> EngineImage:
        """A new local image repository:tag from the container's filesystem and config."""
        ...

    def stats(self, engine_id: str) -> dict[str, object]:
        """One stats sample in the engine's own shape (the docker stats document)."""
        ...

    def events(self, host: str, stop: threading.Event) -> Iterator[EngineEvent]:
        """Block and yield container events for this host's labelled containers until stop.

        Subscribes before returning, so events after the call are not missed by a caller
        that lists containers next; the iterator ends within about a second of stop.
        """
        ...

    def wait(self, engine_id: str, timeout: float) -> int:
        """Block until the container is not running; its exit code (0 if never started).

        RuntimeFailure if it still runs after timeout seconds.
        """
        ...

    # --- sandboxes and volumes ---------------------------------------------------------

    def ensure_pause_image(self) -> str:
        """Build the sandbox infra image locally once (no registry); return its ref."""
        ...

    def netns_pid(self, engine_id: str) -> int | None:
        """A process in the container's network namespace (tenant networks are plugged in
        there by pid), or None when it does not run."""
        ...

    def create_sandbox(self, spec: SandboxSpec) -> str:
        """Create and start a sandbox's infra container; return its engine id."""
        ...

    def claim_pooled(self, engine_id: str, uuid: str) -> None:
        """Make a free, running pool sandbox the sandbox of uuid.

        RuntimeConflict if it is not a free running pool sandbox (e.g. claimed meanwhile)
        or uuid already has a sandbox.
        """
        ...

    def list_sandboxes(self, host: str) -> list[EngineSandbox]:
        """This host's sandboxes, claimed and free, in any state."""
        ...

    def find_sandbox(self, uuid: str) -> EngineSandbox | None:
        """The sandbox of uuid (created for it or claimed by it), fully inspected, or None."""
        ...

    def inspect_sandbox(self, engine_id: str) -> EngineSandbox: ...

    def remove_sandbox(self, engine_id: str) -> None:
        """Remove the sandbox and every container joined to it; missing is not an error.

        (remove() of a sandbox removes it alone, as the engine does, and strands the
        containers joined to it: they keep running with loopback only and cannot start again.)
        """
        ...

    def create_volume(self, name: str, host: str, labels: dict[str, str]) -> None:
        """Create the named volume labelled with host; an existing one is left as it is."""
        ...

    def remove_volume(self, name: str) -> None:
        """Remove the volume; a missing one is fine; RuntimeConflict while a container has it."""
        ...

    def list_volumes(self, host: str) -> list[str]:
        """Names of the volumes labelled io.dockyard.host=host."""
        ...


def remove_host_objects(runtime: ContainerRuntime, host: str) -> int:
    """Remove every engine object labelled with host; how many went.

    Containers first, then sandboxes, then volumes: a volume cannot go while a container
    (in any state) has it.
    """
    containers = [c.id for c in runtime.list_containers(host)]
    sandboxes = [s.id for s in runtime.list_sandboxes(host)]
    for engine_id in containers + sandboxes:
        runtime.remove(engine_id)
    volumes = runtime.list_volumes(host)
    for volume in volumes:
        runtime.remove_volume(volume)
    return len(containers) + len(sandboxes) + len(volumes)
