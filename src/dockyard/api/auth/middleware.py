"""The one place a request's context is set: the caller, and the policy in force for it.

Runs inside ZunCompatMiddleware (which assigns the request id) and before routing, so every
path but the public ones (`GET /`, `GET /v1`, Zun's acl_public_routes) and the agent API
(which has its own token) needs a valid X-Auth-Token, even a path that does not exist.
"""

from __future__ import annotations

import dataclasses
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from dockyard.api import errors as http_errors
from dockyard.api.auth import Authenticator
from dockyard.api.compat import error_body
from dockyard.api.routes.cluster import wire as cluster_wire
from dockyard.api.routes.network import wire as network_wire
from dockyard.errors import DockyardError, IdentityUnavailable, Unauthenticated
from dockyard.services import policy

PUBLIC_PATHS = frozenset({"/", "/v1", "/v1/"})
AGENT_API = "/agent/v1"
# Console websockets: Zun's clients open them without X-Auth-Token; the URL's single-use
# token (api/routes/streams.py) is their credential, checked by the route itself.
STREAMS = "/v1/streams"

# Identity headers keystonemiddleware would set; a client must not be able to set them itself.
_IDENTITY_PREFIXES = (
    b"x-identity-status", b"x-service-", b"x-user", b"x-project", b"x-tenant", b"x-role",
    b"x-domain", b"x-is-admin", b"x-system-scope", b"x-default-project", b"x-auth-project",
)  # fmt: skip


def is_exempt(method: str, path: str) -> bool:
    """Public version documents and the agent API need no user token."""
    if path == AGENT_API or path.startswith(AGENT_API + "/"):
        return True
    if path == STREAMS:
        return True
    if cluster_wire.is_cluster_path(path):
        return cluster_wire.is_public(method, path)
    if network_wire.is_network_path(path):
        return network_wire.is_public(method, path)
    return method in ("GET", "HEAD") and path in PUBLIC_PATHS


class AuthMiddleware:
    """Sets scope state `context` (a RequestContext) or answers 401/503 in Zun's format."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator, rules: policy.Policy) -> None:
        self.app = app
        self.authenticator = authenticator
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope["headers"] = [
            (k, v)
            for k, v in scope.get("headers", [])
            if not k.lower().startswith(_IDENTITY_PREFIXES)
        ]
        state = scope.setdefault("state", {})
        if not is_exempt(scope.get("method", "GET"), scope["path"]):
            try:
                context = await self.authenticator.authenticate(_token(scope))
            except (Unauthenticated, IdentityUnavailable) as exc:
                await self._reject(scope, receive, send, exc)
                return
            state["context"] = dataclasses.replace(
                context, request_id=str(state.get("request_id", "")), policy=self.rules
            )
        await self.app(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, exc: DockyardError) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
            return
        request = Request(scope, receive)
        status = http_errors.status_of(exc)
        if cluster_wire.is_cluster_path(scope["path"]):  # the clustering API's own format
            status, body = cluster_wire.error_of(exc)
            response = Response(body, status_code=status, media_type="application/json")
            if status == 401:
                response.headers["WWW-Authenticate"] = self.authenticator.www_authenticate
        elif network_wire.is_network_path(scope["path"]):  # Neutron's format
            status, body = network_wire.error_of(exc)
            response = Response(body, status_code=status, media_type="application/json")
            if status == 401:
                response.headers["WWW-Authenticate"] = self.authenticator.www_authenticate
        elif status < 500:
            code = f"container.{http_errors.kebab(type(exc).__name__)}"
            response = http_errors.zun_error(request, status, code, exc.text)
            response.headers["WWW-Authenticate"] = self.authenticator.www_authenticate
        else:
            request_id = str(scope["state"].get("request_id", ""))
            body = error_body(status, "container.", HTTPStatus(status).phrase, exc.text, request_id)
            response = Response(body, status_code=status, media_type="application/json")
        await response(scope, receive, send)


def _token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"x-auth-token":
            return str(value.decode("latin-1")).strip() or None
    return None
