"""Pure reconciliation: desired state + what the engine shows → steps, and engine → Zun status."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from dockyard.domain.containers import DesiredState, Status
from dockyard.domain.containerspec import port_of
from dockyard.runtime.base import EngineContainer
from dockyard.runtime.labels import KIND_CONTAINER, KIND_INIT, LABEL_GENERATION
from dockyard.runtime.specs import RunSpec
from dockyard.schemas.agent import Assignment, ContainerReport


class Step(StrEnum):
    CREATE = "create"  # pulls the image first when it is missing (or policy says always)
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    REMOVE = "remove"
    UPDATE_RESOURCES = "update_resources"


_ENGINE_STATUS = {
    "created": Status.CREATED,
    "running": Status.RUNNING,
    "paused": Status.PAUSED,
    "restarting": Status.RESTARTING,
    "exited": Status.STOPPED,
    "removing": Status.STOPPED,
    "dead": Status.DEAD,
}


def zun_status(engine: EngineContainer) -> Status:
    return _ENGINE_STATUS.get(engine.state, Status.UNKNOWN)


def plan(
    desired: Assignment,
    engine: EngineContainer | None,
    *,
    pending: bool,
    resources_stale: bool = False,
) -> list[Step]:
    """The engine calls that bring `engine` to `desired`; empty when nothing is to be done.

    The agent acts on intent, not on drift: only while a change is `pending` (its generation
    not yet acknowledged) does it touch an existing container. A container stopped, started
    or paused by hand is observed and reported, never fought. "running" also means "started
    since the start was asked for" (read off the engine's StartedAt), so a start is not
    repeated when the agent crashed between doing it and acknowledging it.
    """
    state = DesiredState(desired.desired_state)
    if state is DesiredState.DELETED:
        return [Step.REMOVE] if engine else []
    if engine is None:
        if desired.container_id is not None:
            return []  # it existed and was removed behind our back: report, don't recreate
        return [Step.CREATE, *_from_created(state)]
    if not pending:
        return []
    if needs_rebuild(desired, engine):
        return [Step.REMOVE, Step.CREATE, *_from_created(state)]
    steps = [Step.UPDATE_RESOURCES] if resources_stale and engine.state != "dead" else []
    return steps + _converge(desired, state, engine)


def needs_rebuild(desired: Assignment, engine: EngineContainer) -> bool:
    """A rebuild was asked for after the engine container was made (by its generation label;
    a container made by the rebuild, or after it, carries that generation or a later one)."""
    if desired.rebuild_generation is None:
        return False
    try:
        made_at = int(engine.labels.get(LABEL_GENERATION, "0"))
    except ValueError:
        made_at = 0
    return made_at < desired.rebuild_generation


def _from_created(state: DesiredState) -> list[Step]:
    if state is DesiredState.RUNNING:
        return [Step.START]
    if state is DesiredState.PAUSED:
        return [Step.START, Step.PAUSE]
    return []


def _converge(desired: Assignment, state: DesiredState, engine: EngineContainer) -> list[Step]:
    live = engine.state in ("running", "restarting")
    started_since_asked = (
        engine.started_at is not None and engine.started_at >= desired.state_requested_at
    )
    if state is DesiredState.RUNNING:
        if engine.state == "paused":
            return [Step.UNPAUSE]
        if live:
            reboot = desired.reboot_requested_at
            needs_reboot = reboot is not None and (
                engine.started_at is None or engine.started_at < reboot
            )
            return [Step.RESTART] if needs_reboot else []
        return [] if started_since_asked else [Step.START]
    if state is DesiredState.STOPPED:
        return [Step.STOP] if live or engine.state == "paused" else []
    if state is DesiredState.PAUSED:
        if engine.state == "running":
            return [Step.PAUSE]
        if engine.state in ("created", "exited") and not started_since_asked:
            return [Step.START, Step.PAUSE]
    return []


def run_spec(desired: Assignment, host: str, sandbox_engine_id: str | None = None) -> RunSpec:
    """The engine options of the asked-for spec: the one place a spec field becomes one."""
    spec = desired.spec
    return RunSpec(
        sandbox_engine_id=sandbox_engine_id,
        share_pid=bool(desired.sandbox and desired.sandbox.share_pid and sandbox_engine_id),
        volumes=list(spec.volume_mounts),
        files=list(spec.injected_files),
        kind=KIND_INIT if desired.container_type == "init" else KIND_CONTAINER,
        sandbox_uuid=desired.sandbox.uuid if desired.sandbox else None,
        capsule_uuid=desired.capsule_uuid,
        uuid=desired.uuid,
        host=host,
        image=spec.image,
        command=spec.command,
        entrypoint=spec.entrypoint,
        environment=dict(spec.environment),
        labels=dict(spec.labels),
        workdir=spec.workdir,
        hostname=spec.hostname,
        cpu=spec.cpu,
        memory_mib=spec.memory,
        restart_policy=spec.restart_policy,
        auto_remove=spec.auto_remove,
        interactive=spec.interactive,
        tty=spec.tty,
        privileged=spec.privileged,
        exposed_ports=[port_of(p) for p in spec.exposed_ports],
        healthcheck=spec.healthcheck,
        runtime=spec.runtime,
        project_id=desired.project_id,
        generation=desired.generation,
        # On tenant networks it gets no engine network: its ports are plugged in by pid.
        engine_network=not desired.ports,
        # Its namespace is its own, made by its start: its command waits for the ports.
        hold=bool(desired.ports) and desired.sandbox is None,
    )


def report_of(desired: Assignment, engine: EngineContainer) -> ContainerReport:
    """The observation the control plane records for an existing engine container."""
    status = zun_status(engine)
    reason = engine.error or None
    if status is Status.DEAD and not reason:
        reason = "The engine marked the container dead."
    return ContainerReport(
        uuid=desired.uuid,
        generation=desired.generation,
        status=status.value,
        status_reason=reason,
        task_state=None,
        container_id=engine.id,
        started_at=engine.started_at,
        finished_at=engine.finished_at,
        exit_code=engine.exit_code if status is Status.STOPPED else None,
        addresses=addresses_of(engine.ip_addresses),
        ports=list(engine.ports),
        hostname=engine.hostname,
    )


def addresses_of(ips: list[str]) -> dict[str, Any] | None:
    """Zun's `addresses` shape for the engine's IPs."""
    if not ips:
        return None
    return {
        "default": [
            {"addr": ip, "version": 6 if ":" in ip else 4, "port": None, "subnet_id": None,
             "preserve_on_delete": False}
            for ip in ips
        ]
    }  # fmt: skip


def may_start(
    desired: Assignment, siblings: list[tuple[Assignment, EngineContainer | None]]
) -> bool:
    """Capsule order: init containers one after another, each to a clean exit, then the rest."""
    if desired.capsule_uuid is None:
        return True
    for other, engine in siblings:
        if other.uuid == desired.uuid or other.container_type != "init":
            continue
        if desired.container_type == "init" and other.capsule_order >= desired.capsule_order:
            continue
        if engine is None or engine.state != "exited" or engine.exit_code != 0:
            return False
    return True


# The state each engine event implies; an event that only confirms what the agent already
# knows (usually one it caused itself) needs no new look at the engine.
_IMPLIED_STATE = {
    "start": "running", "unpause": "running", "restart": "running",
    "pause": "paused", "die": "exited", "stop": "exited",
}  # fmt: skip


def event_is_news(action: str, known: EngineContainer | None) -> bool:
    """Whether an engine event may change what the agent knows of the container."""
    if action == "create":
        return known is None
    if action == "destroy":
        return known is not None
    implied = _IMPLIED_STATE.get(action)
    return implied is None or known is None or known.state != implied
