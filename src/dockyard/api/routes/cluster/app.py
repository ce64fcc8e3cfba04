"""create_cluster_app(parent): the clustering API, mounted by the control plane at /cluster."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dockyard import errors
from dockyard.api.routes.cluster import catalog, clusters, objects, rules
from dockyard.api.routes.cluster.wire import ClusteringVersionMiddleware, error_document, error_of

log = logging.getLogger(__name__)


def log_server_error(request: Request, status: int, exc: Exception) -> None:
    request_id = getattr(request.state, "request_id", "")
    log.error("request %s failed: %r", request_id, exc, exc_info=status == 500)


def _json(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


async def _dockyard_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, errors.DockyardError):  # registered for that class only
        raise exc
    status, body = error_of(exc)
    if status >= 500:
        log_server_error(request, status, exc)
    return _json(status, body)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    phrase = HTTPStatus(exc.status_code).phrase
    kind = "ResourceNotFound" if exc.status_code == 404 else phrase.replace(" ", "")
    return _json(exc.status_code, error_document(exc.status_code, kind, str(exc.detail)))


async def _validation_error(request: Request, exc: Exception) -> Response:
    return _json(400, error_document(400, "BadRequest", "Invalid request."))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log_server_error(request, 500, exc)
    text = "The server could not handle the request."
    return _json(500, error_document(500, "InternalError", text))


def create_cluster_app(parent: FastAPI) -> FastAPI:
    """Senlin's v1 API over Dockyard's containers; it reads the parent's services."""
    app = FastAPI(
        title="Dockyard clustering", docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(rules.enforce)],
    )  # fmt: skip
    app.state.parent = parent
    app.add_exception_handler(errors.DockyardError, _dockyard_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    for module in (catalog, clusters, objects):
        app.include_router(module.router)
    app.add_middleware(ClusteringVersionMiddleware)
    return app
