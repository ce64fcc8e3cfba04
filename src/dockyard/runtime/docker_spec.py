"""RunSpec and SandboxSpec as docker engine create arguments."""

from __future__ import annotations

from typing import Any

import docker.types

from dockyard.runtime.hold import HOLD_PATH, HeldParts, held_entrypoint, hold_source
from dockyard.runtime.labels import LABEL_CONTAINER, LABEL_HOST, LABEL_PROJECT, LABEL_VOLUME
from dockyard.runtime.specs import (
    RunSpec,
    SandboxSpec,
    VolumeMount,
    check_run_spec,
    container_labels,
    sandbox_labels,
)

MIB = 1024 * 1024
CPU_PERIOD = 100_000  # µs; the CFS period docker itself uses for --cpus

JSON = dict[str, Any]


def create_args(api: Any, spec: RunSpec, held_parts: HeldParts | None = None) -> JSON:
    """Keyword arguments of APIClient.create_container for spec (the image aside).

    `held_parts`: the container's own entrypoint and command, run by the hold
    (runtime/hold.py) once released.
    """
    check_run_spec(spec)
    joined = spec.sandbox_engine_id is not None
    held = held_parts is not None
    return {
        "command": (held_parts[1] or None) if held_parts else spec.command,
        "entrypoint": held_entrypoint(held_parts[0]) if held_parts else spec.entrypoint,
        "name": f"dockyard-{spec.uuid}",
        # The engine refuses both on a container that joins another's network namespace
        # ("conflicting options"): the sandbox has the hostname, and exposing is moot.
        "hostname": None if joined else spec.hostname,
        "ports": None if joined else list(spec.exposed_ports) or None,
        "working_dir": spec.workdir,
        "environment": dict(spec.environment),
        "labels": container_labels(spec),
        "stdin_open": spec.interactive,
        "tty": spec.tty,
        "healthcheck": _healthcheck(spec),
        "host_config": _host_config(api, spec, held),
    }


def sandbox_args(api: Any, spec: SandboxSpec, name: str) -> JSON:
    """Keyword arguments of APIClient.create_container for a sandbox (the image aside)."""
    return {
        "name": name,
        "hostname": spec.hostname,
        "labels": sandbox_labels(spec),
        # No restart policy: a restarted infra container has new namespaces, and the
        # containers that had joined it are stranded in the old ones all the same. No
        # negative oom_score_adj (Kubernetes gives its pause -998) either: an engine without
        # CAP_SYS_RESOURCE, like the test bed's, then fails every start.
        "host_config": api.create_host_config(
            ipc_mode="shareable", network_mode=None if spec.engine_network else "none"
        ),
    }


def _host_config(api: Any, spec: RunSpec, held: bool = False) -> Any:
    # A CFS quota rather than NanoCpus: the engine refuses to update the quota of a container
    # created with NanoCpus, and the SDK's update call has no NanoCpus.
    quota = int(spec.cpu * CPU_PERIOD) if spec.cpu else None
    return api.create_host_config(
        cpu_period=CPU_PERIOD if quota else None,
        cpu_quota=quota,
        mem_limit=spec.memory_mib * MIB if spec.memory_mib else None,
        restart_policy={
            "Name": spec.restart_policy.name,
            "MaximumRetryCount": spec.restart_policy.maximum_retry_count,
        },
        auto_remove=spec.auto_remove,
        privileged=spec.privileged,
        runtime=spec.runtime,
        mounts=[*_mounts(spec), *([_hold_mount()] if held else [])] or None,
        **_namespaces(spec),
    )


def _namespaces(spec: RunSpec) -> dict[str, str]:
    if spec.sandbox_engine_id is None:
        return {} if spec.engine_network else {"network_mode": "none"}
    owner = f"container:{spec.sandbox_engine_id}"
    modes = {"network_mode": owner, "ipc_mode": owner}
    if spec.share_pid:
        modes["pid_mode"] = owner
    return modes


def _hold_mount() -> docker.types.Mount:
    return docker.types.Mount(HOLD_PATH, hold_source(), type="bind", read_only=True)


def _mounts(spec: RunSpec) -> list[docker.types.Mount]:
    # A volume mount creates a missing volume; these labels then make it one of this host's,
    # found and removed by label like one made by create_volume (an existing one keeps its).
    # A mount without a name is a new anonymous volume: the engine removes it with the
    # container (remove(v=True)), which is what Zun's `{size, destination}` asks for.
    return [
        docker.types.Mount(
            mount.destination,
            mount.name or None,
            type="volume",
            read_only=mount.read_only,
            labels=volume_labels(spec, mount),
        )
        for mount in spec.volumes
    ]


def volume_labels(spec: RunSpec, mount: VolumeMount) -> dict[str, str]:
    """Labels of an engine volume the engine makes at a mount (both runtimes use these)."""
    labels = {LABEL_HOST: spec.host}
    if mount.volume_uuid is not None:
        labels[LABEL_VOLUME] = mount.volume_uuid
        labels[LABEL_PROJECT] = spec.project_id
    elif not mount.name:
        labels[LABEL_CONTAINER] = spec.uuid
    return labels


def _healthcheck(spec: RunSpec) -> JSON | None:
    check = spec.healthcheck
    if check is None:
        return None
    return {
        "test": ["CMD-SHELL", check.test],
        "interval": check.interval * 1_000_000_000,
        "timeout": check.timeout * 1_000_000_000,
        "retries": check.retries,
    }
