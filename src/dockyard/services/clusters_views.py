"""Cluster objects as the clustering API shows them (Senlin's field names and shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dockyard.db.clusters_tables import (
    ClusterActionRow,
    ClusterBindingRow,
    ClusterEventRow,
    ClusterNodeRow,
    ClusterPolicyRow,
    ClusterProfileRow,
    ClusterReceiverRow,
    ClusterRow,
)

View = dict[str, Any]


def isotime(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _owned(row: Any) -> View:
    return {
        "id": row.id, "name": row.name, "project": row.project_id, "user": row.user_id,
        "domain": None, "created_at": isotime(row.created_at),
        "updated_at": isotime(row.updated_at),
    }  # fmt: skip


def profile_view(row: ClusterProfileRow) -> View:
    return {**_owned(row), "type": row.type, "spec": row.spec, "metadata": row.meta_data}


def policy_view(row: ClusterPolicyRow) -> View:
    return {**_owned(row), "type": row.type, "spec": row.spec, "data": row.data}


def cluster_view(row: ClusterRow, profile_name: str, nodes: list[str], policies: list[str]) -> View:
    return {
        **_owned(row), "profile_id": row.profile_id, "profile_name": profile_name,
        "status": row.status, "status_reason": row.status_reason,
        "desired_capacity": row.desired_capacity, "min_size": row.min_size,
        "max_size": row.max_size, "timeout": row.timeout, "metadata": row.meta_data,
        "config": row.config, "data": _public_data(row.data), "dependents": {},
        "init_at": isotime(row.init_at), "nodes": nodes, "policies": policies,
    }  # fmt: skip


def _public_data(data: dict[str, Any]) -> dict[str, Any]:
    update = data.get("update")
    return (
        {"update": {k: v for k, v in update.items() if k in ("failed", "profile_id")}}
        if (update)
        else {}
    )


def node_view(row: ClusterNodeRow, profile_name: str, details: View | None = None) -> View:
    view = {
        **_owned(row), "cluster_id": row.cluster_id or "", "profile_id": row.profile_id,
        "profile_name": profile_name, "physical_id": row.physical_id, "index": row.index,
        "role": row.role or "", "status": row.status, "status_reason": row.status_reason,
        "metadata": row.meta_data, "data": {k: v for k, v in row.data.items()
                                            if k in ("host", "zone", "container_name")},
        "tainted": row.tainted, "init_at": isotime(row.init_at), "dependents": {},
    }  # fmt: skip
    if details is not None:
        view["details"] = details
    return view


def binding_view(binding: ClusterBindingRow, cluster: ClusterRow, policy: ClusterPolicyRow) -> View:
    return {
        "id": binding.id, "cluster_id": cluster.id, "cluster_name": cluster.name,
        "policy_id": policy.id, "policy_name": policy.name, "policy_type": policy.type,
        "enabled": binding.enabled, "data": binding.data,
    }  # fmt: skip


def receiver_view(row: ClusterReceiverRow, base_url: str) -> View:
    """A receiver; its alarm_url (the secret) is shown to its own project only."""
    query = "".join(f"&{k}={v}" for k, v in sorted(row.params.items()))
    url = f"{base_url}/v1/webhooks/{row.secret}/trigger?V=2{query}"
    return {
        **_owned(row), "type": row.type, "cluster_id": row.cluster_id, "action": row.action,
        "params": row.params, "actor": {}, "channel": {"alarm_url": url},
    }  # fmt: skip


def action_view(row: ClusterActionRow) -> View:
    return {
        **_owned(row), "action": row.action, "target": row.target, "cluster_id": row.cluster_id,
        "cause": row.cause, "owner": None, "interval": -1, "start_time": row.start_time,
        "end_time": row.end_time, "timeout": row.timeout, "status": row.status,
        "status_reason": row.status_reason, "inputs": row.inputs, "outputs": row.outputs,
        "depends_on": [], "depended_by": [], "data": {},
    }  # fmt: skip


def event_view(row: ClusterEventRow) -> View:
    return {
        "id": row.id, "timestamp": isotime(row.timestamp), "oid": row.oid, "oname": row.oname,
        "otype": row.otype, "cluster_id": row.cluster_id, "action": row.action,
        "status": row.status, "status_reason": row.status_reason, "level": str(row.level),
        "meta_data": row.meta_data, "user": row.user_id, "project": row.project_id,
    }  # fmt: skip
