"""Senlin's wire conventions: the clustering microversion, the error document, public paths."""

from __future__ import annotations

import json
import re
from http import HTTPStatus

from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard import errors
from dockyard.api.asgi import adding_headers, header_of, send_json
from dockyard.api.errors import status_of
from dockyard.domain.clusters import MultipleChoices

PREFIX = "/cluster"
MIN_VERSION, MAX_VERSION = (1, 0), (1, 14)
SERVICE = "clustering"
_WEBHOOK = re.compile(r"^/cluster/v1/webhooks/[^/]+/trigger/?$")
_PUBLIC = {PREFIX, f"{PREFIX}/", f"{PREFIX}/v1", f"{PREFIX}/v1/"}


def is_cluster_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def is_public(method: str, path: str) -> bool:
    """The version documents, and webhooks (their secret URL is their credential)."""
    if method in ("GET", "HEAD") and path in _PUBLIC:
        return True
    return method == "POST" and bool(_WEBHOOK.match(path))


_TYPES: list[tuple[type[errors.DockyardError], str]] = [
    (MultipleChoices, "MultipleChoices"),
    (errors.NotFound, "ResourceNotFound"),
    (errors.Invalid, "BadRequest"),
    (errors.NotAuthorized, "Forbidden"),
    (errors.Unauthenticated, "HTTPUnauthorized"),
    (errors.Conflict, "Conflict"),
    (errors.MicroversionUnsupported, "InvalidGlobalAPIVersion"),
    (errors.UnsupportedMediaType, "HTTPUnsupportedMediaType"),
]


def error_type(exc: errors.DockyardError) -> str:
    for kind, name in _TYPES:
        if isinstance(exc, kind):
            return name
    return "InternalError"


def error_document(status: int, kind: str, message: str) -> bytes:
    """Senlin's fault body: code, title, explanation and error{code, message, type}."""
    title = HTTPStatus(status).phrase
    body = {
        "code": status,
        "error": {"code": status, "message": message, "type": kind},
        "explanation": message,
        "title": title,
    }
    return json.dumps(body).encode()


def error_of(exc: errors.DockyardError) -> tuple[int, bytes]:
    status = status_of(exc)
    return status, error_document(status, error_type(exc), exc.text)


def negotiate(header: str | None) -> tuple[int, int]:
    """The clustering version a request asks for: none means 1.0, `latest` the newest."""
    for item in (header or "").split(","):
        parts = item.strip().split()
        if len(parts) != 2 or parts[0].lower() != SERVICE:
            continue
        if parts[1].lower() == "latest":
            return MAX_VERSION
        try:
            major, minor = (int(x) for x in parts[1].split("."))
        except ValueError:
            raise errors.MicroversionUnsupported(f"Invalid API version '{parts[1]}'.") from None
        if not MIN_VERSION <= (major, minor) <= MAX_VERSION:
            raise errors.MicroversionUnsupported(
                f"API version '{major}.{minor}' is not supported on this method; the range is "
                f"{MIN_VERSION[0]}.{MIN_VERSION[1]} to {MAX_VERSION[0]}.{MAX_VERSION[1]}."
            )
        return major, minor
    return MIN_VERSION


class ClusteringVersionMiddleware:
    """Negotiates the clustering microversion and echoes it on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            major, minor = negotiate(header_of(scope, "openstack-api-version"))
        except errors.MicroversionUnsupported as exc:
            await send_json(send, 406, error_document(406, "InvalidGlobalAPIVersion", exc.text))
            return
        headers = [
            (b"openstack-api-version", f"{SERVICE} {major}.{minor}".encode()),
            (b"vary", b"OpenStack-API-Version"),
        ]
        await self.app(scope, receive, adding_headers(send, headers))
