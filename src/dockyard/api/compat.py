"""Zun wire compatibility: microversion negotiation, request ids, envelopes and parameters."""

from __future__ import annotations

import json
import math
import signal as signals
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard.api.asgi import adding_headers, header_of, send_json
from dockyard.errors import InvalidValue, MicroversionUnsupported

MIN_VERSION = (1, 1)
MAX_VERSION = (1, 40)
VERSION_HEADER = "openstack-api-version"
SERVICE = "container"


@dataclass(frozen=True, order=True)
class APIVersion:
    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, major: int, minor: int) -> bool:
        return (self.major, self.minor) >= (major, minor)


def negotiate(header: str | None) -> APIVersion:
    """The version a request asks for; no header means 1.1, as in Zun."""
    if not header:
        return APIVersion(*MIN_VERSION)
    for item in header.split(","):
        parts = item.strip().split()
        if len(parts) == 2 and parts[0].lower() == SERVICE:
            return _parse(parts[1])
        if len(parts) == 1:
            raise MicroversionUnsupported("Invalid service type for OpenStack-API-Version header.")
    return APIVersion(*MIN_VERSION)


def _parse(text: str) -> APIVersion:
    if text.lower() == "latest":
        return APIVersion(*MAX_VERSION)
    try:
        major, minor = (int(x) for x in text.split("."))
    except ValueError:
        raise MicroversionUnsupported(f"Invalid microversion {text!r}.") from None
    if not MIN_VERSION <= (major, minor) <= MAX_VERSION:
        raise MicroversionUnsupported(
            f"Version {major}.{minor} was requested but the minor version is not supported by "
            f"this service. The supported version range is: "
            f"[{MIN_VERSION[0]}.{MIN_VERSION[1]}, {MAX_VERSION[0]}.{MAX_VERSION[1]}]."
        )
    return APIVersion(major, minor)


def error_body(status: int, code: str, title: str, detail: str, request_id: str) -> bytes:
    """Zun's error document (ParsableErrorMiddleware shape)."""
    error = {
        "request_id": request_id,
        "code": code,
        "status": status,
        "title": title,
        "detail": detail,
        "links": [],
    }
    return json.dumps({"errors": [error]}).encode()


def _version_headers(version: APIVersion | None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"openstack-api-minimum-version", f"{SERVICE} 1.1".encode()),
        (b"openstack-api-maximum-version", f"{SERVICE} 1.40".encode()),
        (b"vary", b"OpenStack-API-Version"),
    ]
    if version is not None:
        headers.append((b"openstack-api-version", f"{SERVICE} {version}".encode()))
    return headers


def added_headers(state: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    """What every response carries: the request id, and on /v1 the microversion headers."""
    headers = [(b"x-openstack-request-id", str(state.get("request_id", "")).encode())]
    version = state.get("api_version")
    if isinstance(version, APIVersion):
        headers += _version_headers(version)
    return headers


class ZunCompatMiddleware:
    """Adds a request id to every response; negotiates the microversion on /v1 paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req-{uuid.uuid4()}"
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        versioned = scope["path"] == "/v1" or scope["path"].startswith("/v1/")
        if versioned and len(scope["path"]) > 4 and scope["path"].endswith("/"):
            # Zun (Pecan) answers `/v1/images/` as `/v1/images`; zunclient asks for both.
            scope = {**scope, "path": scope["path"].rstrip("/")}
            scope["raw_path"] = scope["path"].encode()
        if versioned:
            raw = header_of(scope, VERSION_HEADER)
            try:
                version = negotiate(raw)
            except MicroversionUnsupported as exc:
                headers = added_headers(state) + _version_headers(None)
                body = error_body(406, "container.microversion-unsupported", exc.text, exc.text,
                                  request_id)  # fmt: skip
                await send_json(send, 406, body, headers)
                return
            state["api_version"] = version
        await self.app(scope, receive, adding_headers(send, added_headers(state)))


# --- parameters: Zun (Pecan) merges the query string with a JSON body's top-level keys ---

_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


def parse_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue(f"Invalid value {value!r} for {name}: expected a boolean.")


# The largest integer a parameter may carry: it has to fit the database's INTEGER columns.
MAX_INT = 2**31 - 1


def parse_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool):
        raise InvalidValue(f"Invalid value {value!r} for {name}: expected an integer.")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise InvalidValue(f"Invalid value {value!r} for {name}: expected an integer.") from None
    if minimum is not None and number < minimum:
        raise InvalidValue(f"Invalid value {number} for {name}: must be at least {minimum}.")
    if maximum is not None and number > maximum:
        raise InvalidValue(f"Invalid value {number} for {name}: must be at most {maximum}.")
    return number


# Zun's `signal` enum: every signal by name ("SIGKILL", "KILL", "kill") or number, and the
# string "None" (what zunclient sends when no signal is given) for the default.
def parse_signal(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    text = str(value).strip().upper() if isinstance(value, str | int) else ""
    if isinstance(value, bool) or not text:
        raise InvalidValue(f"Invalid signal {value!r}.")
    if text.isdigit():
        if 0 < int(text) < signals.NSIG:
            return text
    elif (text if text.startswith("SIG") else f"SIG{text}") in signals.Signals.__members__:
        return text
    raise InvalidValue(f"Invalid signal {value!r}: use a name such as SIGTERM or a number.")


# Latest `since` a log query may name (9999-12-31T23:59:59Z), so it stays a valid timestamp.
MAX_EPOCH = 253_402_300_799.0


def parse_epoch(value: float, name: str) -> float:
    if not math.isfinite(value) or not 0 <= value <= MAX_EPOCH:
        raise InvalidValue(f"Invalid value {value!r} for {name}: not a valid point in time.")
    return value


def links(base_url: str, collection: str, ident: str) -> list[dict[str, str]]:
    base = base_url.rstrip("/")
    return [
        {"href": f"{base}/v1/{collection}/{ident}", "rel": "self"},
        {"href": f"{base}/{collection}/{ident}", "rel": "bookmark"},
    ]


def next_link(
    base_url: str, collection: str, page: list[dict[str, Any]], limit: int, sort: tuple[str, str]
) -> str | None:
    """Zun's `next`: present only when the page is full."""
    if len(page) < limit or not page:
        return None
    marker = page[-1]["uuid"]
    return (
        f"{base_url.rstrip('/')}/v1/{collection}?sort_key={sort[0]}&sort_dir={sort[1]}"
        f"&limit={limit}&marker={marker}"
    )
