"""Request bodies of the clustering API: what the real client sends (counts as strings,
nulls for "not given") parsed into typed values, or InvalidValue saying what is wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidValue

MAX_INT = 2**31 - 1


def as_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """An integer from a JSON number or a numeric string (the CLI sends "3")."""
    if isinstance(value, bool) or value is None:
        raise InvalidValue(f"The value ({value}) for '{name}' is not a valid integer.")
    try:
        number = value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise InvalidValue(f"The value ({value}) for '{name}' is not a valid integer.") from None
    if abs(number) > MAX_INT or (minimum is not None and number < minimum):
        low = f"at least {minimum}" if minimum is not None else "in range"
        raise InvalidValue(f"The value ({number}) for '{name}' must be {low}.")
    return number


def as_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on", "t", "y"):
        return True
    if text in ("false", "0", "no", "off", "f", "n"):
        return False
    raise InvalidValue(f"The value ({value}) for '{name}' is not a valid boolean.")


def as_name(value: Any, name: str = "name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 255:
        raise InvalidValue(f"The '{name}' must be a non-empty string of at most 255 characters.")
    return value


def as_map(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(f"The '{name}' must be a map.")
    return value


def envelope(body: dict[str, Any], key: str) -> dict[str, Any]:
    """body[key] as a map: Senlin's requests wrap the object ({"cluster": {...}})."""
    inner = body.get(key)
    if not isinstance(inner, dict):
        raise InvalidValue(f"Malformed request data, missing '{key}' key in request body.")
    return inner


def only(body: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidValue(f"Unrecognizable parameter '{unknown[0]}' in {what}.")


@dataclass
class ClusterCreate:
    name: str
    profile_id: str
    desired_capacity: int
    min_size: int = 0
    max_size: int = -1
    timeout: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: dict[str, Any]) -> ClusterCreate:
        data = envelope(body, "cluster")
        only(data, {"name", "profile_id", "desired_capacity", "min_size", "max_size",
                    "timeout", "metadata", "config"}, "cluster")  # fmt: skip
        if not data.get("profile_id"):
            raise InvalidValue("The 'profile_id' is required for a cluster.")
        min_size = as_int(data.get("min_size") or 0, "min_size", minimum=0)
        max_raw = data.get("max_size")
        max_size = -1 if max_raw is None else as_int(max_raw, "max_size", minimum=-1)
        raw = data.get("desired_capacity")
        desired = min_size if raw is None else as_int(raw, "desired_capacity", minimum=0)
        timeout = data.get("timeout")
        return cls(
            name=as_name(data.get("name")), profile_id=str(data["profile_id"]),
            desired_capacity=desired, min_size=min_size, max_size=max_size,
            timeout=None if timeout is None else as_int(timeout, "timeout", minimum=0),
            metadata=as_map(data.get("metadata"), "metadata"),
            config=as_map(data.get("config"), "config"),
        )  # fmt: skip


def optional_int(data: dict[str, Any], key: str, minimum: int | None = None) -> int | None:
    value = data.get(key)
    return None if value is None else as_int(value, key, minimum=minimum)


CLUSTER_ACTIONS = {
    "resize": "CLUSTER_RESIZE",
    "scale_out": "CLUSTER_SCALE_OUT",
    "scale_in": "CLUSTER_SCALE_IN",
    "add_nodes": "CLUSTER_ADD_NODES",
    "del_nodes": "CLUSTER_DEL_NODES",
    "replace_nodes": "CLUSTER_REPLACE_NODES",
    "policy_attach": "CLUSTER_ATTACH_POLICY",
    "policy_detach": "CLUSTER_DETACH_POLICY",
    "policy_update": "CLUSTER_UPDATE_POLICY",
    "check": "CLUSTER_CHECK",
    "recover": "CLUSTER_RECOVER",
}
RECEIVER_ACTIONS = {"CLUSTER_SCALE_OUT", "CLUSTER_SCALE_IN", "CLUSTER_RESIZE", "CLUSTER_CHECK",
                    "CLUSTER_RECOVER"}  # fmt: skip


def cluster_action(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The one verb of a POST …/actions body and its parameters."""
    if len(body) != 1:
        raise InvalidValue("Multiple actions specified." if body else "No action specified.")
    ((verb, params),) = body.items()
    if verb not in CLUSTER_ACTIONS:
        raise InvalidValue(f"Unrecognized action '{verb}' specified.")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InvalidValue(f"The parameters of '{verb}' must be a map.")
    return verb, params
