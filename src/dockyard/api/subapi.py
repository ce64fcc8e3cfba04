"""The frame of an OpenStack API mounted beside Zun's (Senlin's at /cluster, Neutron's at
/network): one builder, so that both check route policy, read the parent's services, find their
public root and log server errors alike; what differs per API is its FaultFormat and routes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dockyard import errors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaultFormat:
    """How one API writes its fault documents."""

    of_error: Callable[[errors.DockyardError], tuple[int, bytes]]
    of_http: Callable[[int, str], bytes]  # a routing fault (no route, wrong method): status, detail
    invalid: bytes  # 400: a request FastAPI's own validation refused
    internal: bytes  # 500: an exception nothing translated


def create_subapi(
    parent: FastAPI,
    title: str,
    faults: FaultFormat,
    enforce: Callable[[Request], Any],
    routers: Iterable[APIRouter],
) -> FastAPI:
    """The API's app, reading `parent`'s services; `enforce` runs before every handler."""
    app = FastAPI(
        title=title, docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(enforce)],
    )  # fmt: skip
    app.state.parent = parent

    async def dockyard_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, errors.DockyardError):  # registered for that class only
            raise exc
        status, body = faults.of_error(exc)
        if status >= 500:
            _log_server_error(request, status, exc)
        return _json(status, body)

    async def http_error(request: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException):  # registered for that class only
            raise exc
        return _json(exc.status_code, faults.of_http(exc.status_code, str(exc.detail)))

    async def validation_error(request: Request, exc: Exception) -> Response:
        return _json(400, faults.invalid)

    async def unexpected(request: Request, exc: Exception) -> Response:
        _log_server_error(request, 500, exc)
        return _json(500, faults.internal)

    app.add_exception_handler(errors.DockyardError, dockyard_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
    for router in routers:
        app.include_router(router)
    return app


def parent_services(request: Request) -> Any:
    """The control plane's services (the parent app's), which a mounted API's routes use."""
    return request.app.state.parent.state.services


def base_url(request: Request, prefix: str) -> str:
    """The API's root as clients reach it (version documents and Locations are built on it)."""
    configured = parent_services(request).settings.api.public_url
    root = configured.rstrip("/") if configured else str(request.base_url).rstrip("/")
    return root if root.endswith(prefix) else f"{root}{prefix}"


def _json(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def _log_server_error(request: Request, status: int, exc: Exception) -> None:
    # The traceback only for the unexpected: a 502/503 names its cause in its text.
    request_id = getattr(request.state, "request_id", "")
    log.error("request %s failed: %r", request_id, exc, exc_info=exc if status == 500 else None)
