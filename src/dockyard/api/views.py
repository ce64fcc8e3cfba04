"""Zun's response views (§6.2 of the reference), built from rows per microversion and role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dockyard.api.compat import links
from dockyard.db.tables import ContainerRow, HostRow, SandboxRow, utcnow
from dockyard.domain.containers import Status, shown_status, status_detail
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


def container_view(
    row: ContainerRow,
    ctx: RequestContext,
    base_url: str,
    *,
    hostnames: dict[str, str],
    down_hosts: set[str],
    hidden: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Zun's container view; `hidden` is hidden_container_fields(ctx), when known already."""
    status = shown_status(Status(row.status), row.host_uuid in down_hosts)
    policy_in = row.restart_policy or {}
    view: dict[str, Any] = {
        "uuid": row.uuid,
        "links": links(base_url, "containers", row.uuid),
        "name": row.name,
        "image": row.image,
        "command": row.command,
        "entrypoint": row.entrypoint,
        "status": status.value,
        "status_reason": row.status_reason,
        "status_detail": status_detail(
            status, row.started_at, row.finished_at, row.exit_code, utcnow()
        ),
        "task_state": row.task_state,
        "cpu": float(row.cpu),
        "memory": str(row.memory),
        "disk": row.disk,
        "environment": row.environment,
        "labels": row.labels,
        "restart_policy": {
            "Name": str(policy_in.get("Name", "no")),
            "MaximumRetryCount": str(policy_in.get("MaximumRetryCount", 0)),
        },
        "workdir": row.workdir,
        "hostname": row.hostname,
        "ports": row.ports,
        "addresses": row.addresses,
        "security_groups": [],
        "interactive": row.interactive,
        "tty": row.tty,
        "auto_remove": row.auto_remove,
        "auto_heal": row.auto_heal,
        "privileged": row.privileged,
        "image_driver": row.image_driver,
        "image_pull_policy": row.image_pull_policy,
        "host": hostnames.get(row.host_uuid) if row.host_uuid else None,
        "runtime": row.runtime,
        "healthcheck": _healthcheck(row.healthcheck),
        "cpu_policy": row.cpu_policy,
        "registry_id": None,
        "sandbox_id": row.sandbox_uuid,  # Dockyard extension
        "user_id": row.user_id,
        "project_id": row.project_id,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }
    for field in hidden_container_fields(ctx) if hidden is None else hidden:
        view.pop(field)
    return view


def _healthcheck(check: dict[str, Any] | None) -> dict[str, Any] | None:
    if not check:
        return None
    return {
        "test": check.get("cmd"),
        "interval": check.get("interval"),
        "retries": check.get("retries"),
        "timeout": check.get("timeout"),
    }


def sandbox_view(
    row: SandboxRow, members: list[str], base_url: str, *, down_hosts: set[str]
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
    row: HostRow, base_url: str, *, total_containers: int | None = None
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


def service_view(row: HostRow, is_up: bool) -> dict[str, Any]:
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

    def member(c: ContainerRow) -> dict[str, Any]:
        return container_view(
            c, ctx, base_url, hostnames=hostnames, down_hosts=down_hosts, hidden=hidden
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
