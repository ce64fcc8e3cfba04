"""What the agent asks an engine to make (RunSpec, SandboxSpec) and the checks and labels
every runtime applies to such a request before the engine sees it.

Apart from the port (base.py) so that DockerRuntime and FakeRuntime share one validation
and one labelling of a request, which is what keeps the fake from drifting.
"""

from __future__ import annotations

import signal as signals
from dataclasses import dataclass, field

from dockyard import errors

# The engine options a container spec carries are the spec's own types (one declaration).
from dockyard.domain.containerspec import Healthcheck as Healthcheck
from dockyard.domain.containerspec import InjectedFile as InjectedFile
from dockyard.domain.containerspec import RestartPolicy as RestartPolicy
from dockyard.domain.containerspec import VolumeMount as VolumeMount
from dockyard.runtime.labels import (
    KIND_CONTAINER,
    KIND_INIT,
    KIND_SANDBOX,
    LABEL_CAPSULE,
    LABEL_CONTAINER,
    LABEL_GENERATION,
    LABEL_HOST,
    LABEL_KIND,
    LABEL_POOL,
    LABEL_PROJECT,
    LABEL_SANDBOX,
)

MAX_HOSTNAME = 64  # the kernel's limit; the engine accepts longer ones and fails at start


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
    restart_policy: RestartPolicy = field(default_factory=RestartPolicy)
    auto_remove: bool = False
    interactive: bool = False
    tty: bool = False
    privileged: bool = False
    exposed_ports: list[tuple[int, str]] = field(default_factory=list)  # (port, "tcp"|"udp")
    healthcheck: Healthcheck | None = None
    runtime: str | None = None
    project_id: str = ""
    generation: int = 0
    # Join this running sandbox's network and IPC namespaces; the full engine id, as
    # create_sandbox returns it (remove_sandbox finds the joined containers by it). The engine
    # refuses a hostname and exposed ports on a joining container (the namespace owner has
    # them), so both are left out: such a container reports its sandbox's hostname, no ports.
    sandbox_engine_id: str | None = None
    share_pid: bool = False  # also join the sandbox's PID namespace (needs sandbox_engine_id)
    volumes: list[VolumeMount] = field(default_factory=list)
    files: list[InjectedFile] = field(default_factory=list)  # written before the first start
    kind: str = KIND_CONTAINER  # container | init
    sandbox_uuid: str | None = None
    capsule_uuid: str | None = None
    # False: the engine gives it no network at all (Docker's network mode "none"); tenant
    # networks are plugged into its namespace by pid, so it never sits on the engine's
    # shared default bridge with other projects' containers. Moot for a joining container.
    engine_network: bool = True
    # Its command waits until the agent has plugged its tenant ports (runtime/hold.py): a
    # standalone container on tenant networks, whose namespace exists only once it started.
    hold: bool = False


def check_run_spec(spec: RunSpec) -> None:
    """InvalidValue for a spec no runtime may create; both runtimes ask before the engine."""
    if spec.kind not in (KIND_CONTAINER, KIND_INIT):
        raise errors.InvalidValue(f"Invalid container kind {spec.kind!r}")
    if spec.share_pid and spec.sandbox_engine_id is None:
        raise errors.InvalidValue("share_pid needs a sandbox to share the PID namespace of")


def container_labels(spec: RunSpec) -> dict[str, str]:
    """The engine labels of a container; both runtimes use this, so they agree."""
    labels = {
        **spec.labels,
        LABEL_CONTAINER: spec.uuid,
        LABEL_HOST: spec.host,
        LABEL_PROJECT: spec.project_id,
        LABEL_GENERATION: str(spec.generation),
        LABEL_KIND: spec.kind,
    }
    if spec.sandbox_uuid is not None:
        labels[LABEL_SANDBOX] = spec.sandbox_uuid
    if spec.capsule_uuid is not None:
        labels[LABEL_CAPSULE] = spec.capsule_uuid
    return labels


@dataclass(frozen=True)
class SandboxSpec:
    """An infra container owning network, IPC and UTS namespaces that containers join.

    Either a sandbox for `uuid`, or (pool=True, no uuid) a warm one that claim_pooled later
    gives an identity. A pool sandbox is made before any tenant asks, so it carries no
    tenant data (project, labels); its hostname, fixed at creation like every sandbox's, is
    the engine's default (the id's first 12 characters) unless the operator sets one.
    """

    uuid: str | None
    host: str
    hostname: str | None = None
    pool: bool = False
    project_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    engine_network: bool = True  # False: no engine network (see RunSpec.engine_network)


def sandbox_labels(spec: SandboxSpec) -> dict[str, str]:
    """The engine labels of a sandbox; InvalidValue for a spec no runtime may create."""
    if spec.hostname is not None and not 0 < len(spec.hostname) <= MAX_HOSTNAME:
        raise errors.InvalidValue(f"Invalid hostname {spec.hostname!r}: 1 to 64 characters")
    if spec.pool:
        if spec.uuid is not None or spec.project_id or spec.labels:
            raise errors.InvalidValue("A pool sandbox has no uuid, project or labels")
        return {LABEL_HOST: spec.host, LABEL_KIND: KIND_SANDBOX, LABEL_POOL: "1"}
    if not spec.uuid:
        raise errors.InvalidValue("A sandbox needs a uuid unless it is a pool sandbox")
    return {
        **spec.labels,
        LABEL_HOST: spec.host,
        LABEL_KIND: KIND_SANDBOX,
        LABEL_SANDBOX: spec.uuid,
        LABEL_PROJECT: spec.project_id,
    }
