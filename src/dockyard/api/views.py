"""Zun's response views (§6.2 of the reference), built from rows per microversion and role."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dockyard.api.compat import links
from dockyard.domain.containers import Status, shown_status, status_detail
from dockyard.domain.containerspec import ContainerSpec, Healthcheck, RestartPolicy, port_of
from dockyard.domain.records import ContainerRecord, HostRecord, SandboxRecord
from dockyard.domain.tenancy import RequestContext
from dockyard.services import policy
from dockyard.services.capsules import CapsuleView

_ADMIN_FIELDS = ("image_pull_policy", "host", "runtime", "privileged")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def hidden_container_fields(ctx: RequestContext) -> frozenset[str]:
    """The admin-only fields the caller may not see (once per response, not once per row)."""
    return frozenset(
        field for field in _ADMIN_FIELDS if not policy.is_allowed(ctx, f"container:get_one:{field}")
    )


def _same(value: Any) -> Any:
    return value


def _restart_policy(policy: RestartPolicy) -> dict[str, str]:
    return {"Name": policy.name, "MaximumRetryCount": str(policy.maximum_retry_count)}


def _healthcheck(check: Healthcheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "test": check.test,
        "interval": check.interval,
        "retries": check.retries,
        "timeout": check.timeout,
    }


@dataclass(frozen=True)
class Shown:
    """How the container view shows one spec field: rendered, from a microversion on."""

    render: Callable[[Any], Any] = _same
    since: tuple[int, int] = (1, 1)


# Every ContainerSpec field, and how the container view shows it; None: not shown (the
# scheduler's or the agent's business, or shown from observed state). A test checks that
# every field is here, so a new field cannot be forgotten.
SPEC_VIEW: dict[str, Shown | None] = {
    "image": Shown(),
    "command": Shown(),
    "entrypoint": Shown(),
    "environment": Shown(),
    "labels": Shown(),
    "workdir": Shown(),
    "hostname": None,  # the row's hostname: asked for, else the one the engine gave
    "cpu": Shown(float),
    "memory": Shown(str),
    "disk": Shown(),
    "restart_policy": Shown(_restart_policy),
    "auto_remove": Shown(),
    "auto_heal": Shown(),
    "interactive": Shown(),
    "tty": Shown(),
    "privileged": Shown(),
    "exposed_ports": None,  # `ports` shows what the engine exposed
    "healthcheck": Shown(_healthcheck),
    "image_pull_policy": Shown(),
    "image_driver": Shown(),
    "runtime": Shown(),
    "cpu_policy": Shown(),
    "hints": None,
    "availability_zone": None,
    "requested_host": None,
    "volume_mounts": None,  # capsule volumes; Zun's capsule view has no per-member mounts
    "registry_id": None,  # shown as Zun's top-level `registry_id` below, from 1.31
    "security_groups": None,  # shown below, as Zun does from every microversion
}


@functools.cache
def _shown_at(version: tuple[int, int]) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """SPEC_VIEW's fields shown at a microversion, in order, with their render (None: the
    value as it is); worked out once per microversion, not once per row."""
    return tuple(
        (name, None if shown.render is _same else shown.render)
        for name, shown in SPEC_VIEW.items()
        if shown is not None and version >= shown.since
    )


def spec_view(spec: ContainerSpec, version: tuple[int, int]) -> dict[str, Any]:
    """The spec's part of the container view at a microversion."""
    view: dict[str, Any] = {}
    for name, render in _shown_at(version):
        value = getattr(spec, name)
        view[name] = value if render is None else render(value)
    return view


def container_view(
    row: ContainerRecord,
    ctx: RequestContext,
    base_url: str,
    *,
    version: tuple[int, int],
    hostnames: dict[str, str],
    down_hosts: set[str],
    hidden: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Zun's container view; `hidden` is hidden_container_fields(ctx), when known already."""
    status = shown_status(Status(row.status), row.host_uuid in down_hosts)
    view: dict[str, Any] = {
        "uuid": row.uuid,
        "links": links(base_url, "containers", row.uuid),
        "name": row.name,
        **spec_view(row.spec, version),
        "status": status.value,
        "status_reason": row.status_reason,
        "status_detail": status_detail(
            status, row.started_at, row.finished_at, row.exit_code, datetime.now(UTC)
        ),
        "task_state": row.task_state,
        "hostname": row.hostname,
        "ports": shown_ports(row.ports, row.spec),
        "addresses": row.addresses,
        "security_groups": list(row.spec.security_groups),
        "host": hostnames.get(row.host_uuid) if row.host_uuid else None,
        "registry_id": row.spec.registry_id,
        "sandbox_id": row.sandbox_uuid,  # Dockyard extension
        "user_id": row.user_id,
        "project_id": row.project_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }
    for field in hidden_container_fields(ctx) if hidden is None else hidden:
        view.pop(field, None)
    return view


def sandbox_view(
    row: SandboxRecord, members: list[str], base_url: str, *, down_hosts: set[str]
) -> dict[str, Any]:
    """GET /v1/sandboxes (a Dockyard extension): the namespaces' owner and who joined it."""
    status = shown_status(Status(row.status), row.host_uuid in down_hosts).value
    return {
        "uuid": row.uuid,
        "links": links(base_url, "sandboxes", row.uuid),
        "status": status,
        "status_reason": row.status_reason,
        "hostname": row.hostname,
        "addresses": row.addresses,
        "containers": members,
        "auto_delete": row.auto_delete,
        "share_pid": row.share_pid,
        "project_id": row.project_id,
        "user_id": row.user_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def host_view(
    row: HostRecord, base_url: str, *, total_containers: int | None = None
) -> dict[str, Any]:
    return {
        "uuid": row.uuid,
        "links": links(base_url, "hosts", row.uuid),
        "hostname": row.hostname,
        "mem_total": row.mem_total,
        "mem_used": row.mem_used,
        "cpus": row.cpus,
        "cpu_used": row.cpu_used,
        "disk_total": row.disk_total,
        "disk_used": row.disk_used,
        "disk_quota_supported": False,
        "total_containers": total_containers,
        "architecture": row.architecture,
        "os_type": row.os_type,
        "os": row.os,
        "kernel_version": row.kernel_version,
        "labels": row.labels,
        "runtimes": row.runtimes,
        "enable_cpu_pinning": False,
    }


def service_view(row: HostRecord, is_up: bool) -> dict[str, Any]:
    """A host seen as Zun's zun-compute service; `id` is the host's uuid (Zun: an integer)."""
    return {
        "id": row.uuid,
        "host": row.hostname,
        "binary": "zun-compute",
        "state": "up" if is_up else "down",
        "disabled": row.disabled,
        "disabled_reason": row.disabled_reason,
        "forced_down": row.forced_down,
        "last_seen_up": _iso(row.last_heartbeat_at),
        "report_count": row.report_count,
        "availability_zone": row.availability_zone,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }


def quota_view(limits: dict[str, int], in_use: dict[str, Any] | None = None) -> dict[str, Any]:
    """Zun's quota body: {resource: limit}, or with usages {resource: {limit, in_use}}."""
    if in_use is None:
        return dict(limits)
    return {name: {"limit": limit, "in_use": in_use[name]} for name, limit in limits.items()}


def capsule_view(
    view: CapsuleView,
    ctx: RequestContext,
    base_url: str,
    version: tuple[int, int],
    *,
    hostnames: dict[str, str],
    down_hosts: set[str],
) -> dict[str, Any]:
    """Zun's capsule view: the 1.32+ shape, or the legacy one below 1.32."""
    row = view.row
    hidden = hidden_container_fields(ctx)

    def member(c: ContainerRecord) -> dict[str, Any]:
        return container_view(
            c,
            ctx,
            base_url,
            version=version,
            hostnames=hostnames,
            down_hosts=down_hosts,
            hidden=hidden,
        )

    policy_in = row.restart_policy or {}
    result: dict[str, Any] = {
        "uuid": row.uuid,
        "links": links(base_url, "capsules", row.uuid),
        "status": view.status.value,
        "status_reason": view.status_reason,
        "cpu": float(row.cpu),
        "memory": str(row.memory),
        "addresses": view.sandbox.addresses if view.sandbox else None,
        "containers": [member(c) for c in view.containers],
        "init_containers": [member(c) for c in view.init_containers],
        "host": hostnames.get(row.host_uuid or "") if view.sandbox is None else
        hostnames.get(view.sandbox.host_uuid or ""),
        "user_id": row.user_id,
        "project_id": row.project_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }  # fmt: skip
    if version >= (1, 32):
        result.update(
            name=row.name,
            labels=row.labels,
            annotations=row.annotations,
            restart_policy={
                "Name": str(policy_in.get("Name", "always")),
                "MaximumRetryCount": str(policy_in.get("MaximumRetryCount", 0)),
            },
        )
    else:
        result.update(
            meta_name=row.name,
            meta_labels=row.labels,
            restart_policy=str(policy_in.get("Name", "always")),
            volumes_info={},
            containers_uuids=[c.uuid for c in view.containers],
            init_containers_uuids=[c.uuid for c in view.init_containers],
            capsule_version="",
        )
    if not policy.is_allowed(ctx, "capsule:get:host"):
        result.pop("host")
    return result


def shown_ports(observed: list[int] | None, spec: ContainerSpec) -> list[int] | None:
    """The ports the engine reported, and always the ones the user asked to expose.

    The engine's report comes some time after the container runs (and a list row seen in
    between may carry none yet): the requested ports are known from the start, as in Zun.
    """
    asked = {port_of(text)[0] for text in spec.exposed_ports}
    if not asked:
        return observed
    return sorted(asked | set(observed or ()))
