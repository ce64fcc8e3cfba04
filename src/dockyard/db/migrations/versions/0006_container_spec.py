"""one container spec: what the user asked for in one JSON column, not twenty-odd

Revision ID: 0006_container_spec
Revises: 0005_pending_containers_index
Create Date: 2026-12-02

The columns lists filter and sort by stay (image, cpu, memory, auto_remove), as copies of
the spec's fields; `hostname` stays as the observed hostname. Both directions convert rows.
The shape written here is the spec's at this revision, spelled out, so that later fields
(which have defaults) do not change what this migration does.
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_container_spec"
down_revision = "0005_pending_containers_index"
branch_labels = None
depends_on = None

# (column, its type, nullable, server default for the downgrade's NOT NULL columns)
_MOVED: list[tuple[str, Any, bool, str | None]] = [
    ("command", sa.JSON(), True, None),
    ("entrypoint", sa.JSON(), True, None),
    ("environment", sa.JSON(), False, "{}"),
    ("labels", sa.JSON(), False, "{}"),
    ("workdir", sa.String(length=255), True, None),
    ("disk", sa.Integer(), False, "0"),
    ("restart_policy", sa.JSON(), False, "{}"),
    ("auto_heal", sa.Boolean(), False, "0"),
    ("interactive", sa.Boolean(), False, "0"),
    ("tty", sa.Boolean(), False, "0"),
    ("privileged", sa.Boolean(), False, "0"),
    ("exposed_ports", sa.JSON(), False, "[]"),
    ("healthcheck", sa.JSON(), True, None),
    ("image_pull_policy", sa.String(length=32), True, None),
    ("image_driver", sa.String(length=32), False, "docker"),
    ("runtime", sa.String(length=64), True, None),
    ("cpu_policy", sa.String(length=32), False, "shared"),
    ("hints", sa.JSON(), False, "{}"),
    ("availability_zone", sa.String(length=255), True, None),
    ("requested_host", sa.String(length=255), True, None),
    ("volume_mounts", sa.JSON(), False, "[]"),
]
_KEPT: list[tuple[str, Any]] = [
    ("uuid", sa.String()), ("image", sa.String()), ("cpu", sa.Float()),
    ("memory", sa.Integer()), ("auto_remove", sa.Boolean()), ("hostname", sa.String()),
    ("spec", sa.JSON()),
]  # fmt: skip


def _table() -> sa.TableClause:
    columns: list[sa.ColumnClause[Any]] = [sa.column(n, t) for n, t in _KEPT]
    columns += [sa.column(n, t) for n, t, _, _ in _MOVED]
    return sa.table("containers", *columns)


def _spec(row: Any) -> dict[str, Any]:
    policy = row.restart_policy or {}
    check = row.healthcheck
    return {
        "image": row.image, "command": row.command, "entrypoint": row.entrypoint,
        "environment": row.environment or {}, "labels": row.labels or {},
        "workdir": row.workdir, "hostname": row.hostname, "cpu": float(row.cpu),
        "memory": int(row.memory), "disk": int(row.disk or 0),
        "restart_policy": {"name": str(policy.get("Name", "no")),
                           "maximum_retry_count": int(policy.get("MaximumRetryCount", 0))},
        "auto_remove": bool(row.auto_remove), "auto_heal": bool(row.auto_heal),
        "interactive": bool(row.interactive), "tty": bool(row.tty),
        "privileged": bool(row.privileged), "exposed_ports": list(row.exposed_ports or []),
        "healthcheck": None if not check else {
            "test": str(check["cmd"]), "interval": int(check.get("interval") or 0),
            "retries": int(check.get("retries") or 0), "timeout": int(check.get("timeout") or 0),
        },
        "image_pull_policy": row.image_pull_policy, "image_driver": row.image_driver or "docker",
        "runtime": row.runtime, "cpu_policy": row.cpu_policy or "shared",
        "hints": row.hints or {}, "availability_zone": row.availability_zone,
        "requested_host": row.requested_host, "volume_mounts": list(row.volume_mounts or []),
    }  # fmt: skip


# What a NOT NULL column holds when the spec lacks the field.
_EMPTY: dict[str, Any] = {"environment": {}, "labels": {}, "disk": 0, "exposed_ports": [],
                          "image_driver": "docker", "cpu_policy": "shared", "hints": {},
                          "volume_mounts": []}  # fmt: skip


def _columns(spec: dict[str, Any]) -> dict[str, Any]:
    values = {name: spec.get(name) for name, _, _, _ in _MOVED}
    for name, empty in _EMPTY.items():
        values[name] = empty if values[name] is None else values[name]
    for flag in ("auto_heal", "interactive", "tty", "privileged"):
        values[flag] = bool(values[flag])
    policy = spec.get("restart_policy") or {}
    values["restart_policy"] = {
        "Name": str(policy.get("name", "no")),
        "MaximumRetryCount": int(policy.get("maximum_retry_count", 0)),
    }
    check = spec.get("healthcheck")
    values["healthcheck"] = None if not check else {
        "cmd": check["test"], "interval": check.get("interval", 0),
        "retries": check.get("retries", 0), "timeout": check.get("timeout", 0),
    }  # fmt: skip
    return values


def upgrade() -> None:
    op.add_column("containers", sa.Column("spec", sa.JSON(), nullable=False, server_default="{}"))
    table = _table()
    conn = op.get_bind()
    for row in conn.execute(sa.select(table)).all():
        conn.execute(table.update().where(table.c.uuid == row.uuid).values(spec=_spec(row)))
    for name, _, _, _ in _MOVED:
        op.drop_column("containers", name)


def downgrade() -> None:
    for name, kind, nullable, default in _MOVED:
        op.add_column(
            "containers", sa.Column(name, kind, nullable=nullable, server_default=default)
        )
    table = _table()
    conn = op.get_bind()
    for row in conn.execute(sa.select(table.c.uuid, table.c.spec)).all():
        values = _columns(row.spec or {})
        conn.execute(table.update().where(table.c.uuid == row.uuid).values(**values))
    op.drop_column("containers", "spec")
