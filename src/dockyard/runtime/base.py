"""The ContainerRuntime port: what the agent needs from a host's container engine."""

from __future__ import annotations

import signal as signals
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from dockyard import errors

# Every engine object Dockyard makes carries these labels; the agent finds its objects by
# label, never by name, so that a crash at any step is resumed rather than repeated.
LABEL_CONTAINER = "io.dockyard.container"
LABEL_HOST = "io.dockyard.host"
LABEL_PROJECT = "io.dockyard.project"
LABEL_GENERATION = "io.dockyard.generation"


def signal_number(signal: str | None) -> int:
    """The number of a signal given as "SIGTERM", "TERM", "term" or "15"; None is SIGKILL.

    Both runtimes validate with this, so they agree on what is an InvalidValue.
    """
    if signal is None or not signal.strip():
        return int(signals.SIGKILL)
    text = signal.strip().upper()
    if text.isdigit() and 0 < int(text) < signals.NSIG:
        return int(text)
    name = text if text.startswith("SIG") else f"SIG{text}"
    if name in signals.Signals.__members__:
        return int(signals.Signals[name])
    raise errors.InvalidValue(f"Invalid signal: {signal}")


@dataclass(frozen=True)
class RestartPolicy:
    name: str = "no"  # no | on-failure | always | unless-stopped
    maximum_retry_count: int = 0


@dataclass(frozen=True)
class Healthcheck:
    test: str
    interval: int = 0  # seconds
    retries: int = 0
    timeout: int = 0  # seconds


@dataclass(frozen=True)
class RunSpec:
    """Everything needed to create one engine container; built from desired state."""

    uuid: str
    host: str  # value of the io.dockyard.host label
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # user labels; runtime adds its own
    workdir: str | None = None
    hostname: str | None = None
    cpu: float | None = None  # CPUs (fractional); None = unlimited
    memory_mib: int | None = None
    restart_policy: RestartPolicy = RestartPolicy()
    auto_remove: bool = False
    interactive: bool = False
    tty: bool = False
    privileged: bool = False
    exposed_ports: list[tuple[int, str]] = field(default_factory=list)  # (port, "tcp"|"udp")
    healthcheck: Healthcheck | None = None
    runtime: str | None = None
    project_id: str = ""
    generation: int = 0


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
class ExecResult:
    output: bytes
    exit_code: int | None


@dataclass(frozen=True)
class EngineEvent:
    """A change the engine reports for a labelled container (create, start, die, ...)."""

    uuid: str
    action: str


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
        """All containers labelled with io.dockyard.host=host, in any state."""
        ...

    def find_container(self, uuid: str) -> EngineContainer | None:
        """The container labelled io.dockyard.container=uuid, or None."""
        ...

    def inspect(self, engine_id: str) -> EngineContainer: ...

    def has_image(self, ref: str) -> bool: ...

    def pull_image(self, ref: str) -> None:
        """Pull ref; raise ImageNotFound when the registry does not have it."""
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

    def stats(self, engine_id: str) -> dict[str, object]:
        """One stats sample in the engine's own shape (the docker stats document)."""
        ...

    def events(self, host: str, stop: threading.Event) -> Iterator[EngineEvent]:
        """Block and yield container events for this host's labelled containers until stop.

        Subscribes before returning, so events after the call are not missed by a caller
        that lists containers next; the iterator ends within about a second of stop.
        """
        ...
