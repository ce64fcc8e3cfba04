"""Docker engine documents (inspect results, list rows) as the runtime port's dataclasses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dockyard.runtime.base import EngineContainer, EngineSandbox
from dockyard.runtime.labels import (
    KIND_CONTAINER,
    KIND_SANDBOX,
    LABEL_CONTAINER,
    LABEL_KIND,
    LABEL_POOL,
    LABEL_SANDBOX,
    claimed_uuid,
)

JSON = dict[str, Any]
_ALIVE = ("running", "paused")  # states in which a container holds its namespaces


def parse_engine_time(value: str | None) -> datetime | None:
    """An engine timestamp (RFC 3339, maybe with nanoseconds) as tz-aware UTC; zero → None."""
    if not value or value.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def is_sandbox(labels: dict[str, str] | None) -> bool:
    return (labels or {}).get(LABEL_KIND) == KIND_SANDBOX


def joined_sandbox_id(host_config: JSON | None) -> str | None:
    """The engine id of the container whose network namespace this one joined, if any."""
    mode = str((host_config or {}).get("NetworkMode") or "")
    return mode.split(":", 1)[1] if mode.startswith("container:") else None


def ip_addresses(network_settings: JSON | None) -> list[str]:
    networks = (network_settings or {}).get("Networks") or {}
    return [str(net["IPAddress"]) for net in networks.values() if net.get("IPAddress")]


def from_inspect(data: JSON, sandbox: JSON | None = None) -> EngineContainer:
    """A container's inspect document; sandbox is the inspect of the sandbox it joined."""
    state = data.get("State") or {}
    config = data.get("Config") or {}
    labels = config.get("Labels") or {}
    sandbox_id = joined_sandbox_id(data.get("HostConfig"))
    ports = sorted(int(key.split("/")[0]) for key in config.get("ExposedPorts") or {})
    return EngineContainer(
        id=str(data["Id"]),
        uuid=str(labels.get(LABEL_CONTAINER, "")),
        state=str(state.get("Status", "")),
        exit_code=state.get("ExitCode"),
        error=state.get("Error") or None,
        started_at=parse_engine_time(state.get("StartedAt")),
        finished_at=parse_engine_time(state.get("FinishedAt")),
        ip_addresses=_shared_ips(data, sandbox)
        if sandbox_id
        else ip_addresses(data.get("NetworkSettings")),
        ports=ports,
        hostname=config.get("Hostname") or None,
        image_id=data.get("Image") or None,
        labels=dict(labels),
        kind=str(labels.get(LABEL_KIND, KIND_CONTAINER)),
        sandbox_id=sandbox_id,
        pid=int(state.get("Pid") or 0) or None,
    )


def _shared_ips(joined: JSON, sandbox: JSON | None) -> list[str]:
    # A joined container has no endpoint of its own: the engine reports no addresses for it.
    # It has its sandbox's while both run, unless the sandbox started after it did: then the
    # sandbox is in a new namespace and the container is stranded in the old one (loopback).
    if sandbox is None:
        return []
    mine, theirs = joined.get("State") or {}, sandbox.get("State") or {}
    if mine.get("Status") not in _ALIVE or theirs.get("Status") not in _ALIVE:
        return []
    since = parse_engine_time(theirs.get("StartedAt"))
    started = parse_engine_time(mine.get("StartedAt"))
    if since is None or started is None or since > started:
        return []
    return ip_addresses(sandbox.get("NetworkSettings"))


def from_list_row(row: JSON, sandboxes: dict[str, JSON]) -> EngineContainer:
    """A list row; sandboxes are the list rows of sandboxes by id, for joined containers."""
    # The list endpoint has no exit code, times or hostname; inspect() fills those in. Nor
    # start times: a stranded joined container (see _shared_ips) shows addresses here.
    labels = row.get("Labels") or {}
    ports = sorted({int(port["PrivatePort"]) for port in row.get("Ports") or []})
    sandbox_id = joined_sandbox_id(row.get("HostConfig"))
    addresses = ip_addresses(row.get("NetworkSettings"))
    if sandbox_id is not None:
        sandbox = sandboxes.get(sandbox_id) or {}
        both_run = row.get("State") in _ALIVE and sandbox.get("State") in _ALIVE
        addresses = ip_addresses(sandbox.get("NetworkSettings")) if both_run else []
    return EngineContainer(
        id=str(row["Id"]),
        uuid=str(labels.get(LABEL_CONTAINER, "")),
        state=str(row.get("State", "")),
        ip_addresses=addresses,
        ports=ports,
        image_id=row.get("ImageID") or None,
        labels=dict(labels),
        kind=str(labels.get(LABEL_KIND, KIND_CONTAINER)),
        sandbox_id=sandbox_id,
    )


def sandbox_from_row(row: JSON) -> EngineSandbox:
    """A sandbox's list row (no hostname or start time: the list endpoint has neither)."""
    labels = row.get("Labels") or {}
    uuid = _sandbox_uuid(str((row.get("Names") or [""])[0]), labels)
    state = str(row.get("State", ""))
    return EngineSandbox(
        id=str(row["Id"]),
        uuid=uuid,
        pooled=uuid is None,
        state=state,
        ip_addresses=ip_addresses(row.get("NetworkSettings")) if state in _ALIVE else [],
    )


def sandbox_from_inspect(data: JSON) -> EngineSandbox:
    state = data.get("State") or {}
    config = data.get("Config") or {}
    uuid = _sandbox_uuid(str(data.get("Name", "")), config.get("Labels") or {})
    return EngineSandbox(
        id=str(data["Id"]),
        uuid=uuid,
        pooled=uuid is None,
        state=str(state.get("Status", "")),
        ip_addresses=ip_addresses(data.get("NetworkSettings")),
        hostname=config.get("Hostname") or None,
        started_at=parse_engine_time(state.get("StartedAt")),
    )


def _sandbox_uuid(name: str, labels: dict[str, str]) -> str | None:
    if labels.get(LABEL_POOL) == "1":
        return claimed_uuid(name, labels)
    return labels.get(LABEL_SANDBOX) or None
