"""create_network_app(parent): the Neutron v2.0 subset, mounted by the control plane at /network."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dockyard import errors
from dockyard.api.routes.network import (
    catalog,
    networks,
    ports,
    rules,
    security_groups,
    subnetpools,
    subnets,
)
from dockyard.api.routes.network.wire import error_document, error_of

log = logging.getLogger(__name__)


def _json(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


async def _dockyard_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, errors.DockyardError):  # registered for that class only
        raise exc
    status, body = error_of(exc)
    if status >= 500:
        log.error("request failed: %r", exc)
    return _json(status, body)


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    phrase = HTTPStatus(exc.status_code).phrase
    text = "The resource could not be found." if exc.status_code == 404 else phrase
    return _json(exc.status_code, error_document(f"HTTP{phrase.replace(' ', '')}", text))


async def _validation_error(request: Request, exc: Exception) -> Response:
    return _json(400, error_document("HTTPBadRequest", "Invalid request."))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("request failed", exc_info=exc)
    text = "Request Failed: internal server error while processing your request."
    return _json(500, error_document("HTTPInternalServerError", text))


def create_network_app(parent: FastAPI) -> FastAPI:
    """Neutron's v2.0 API over Dockyard's networks; it reads the parent's services."""
    app = FastAPI(
        title="Dockyard networking", docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(rules.enforce)],
    )  # fmt: skip
    app.state.parent = parent
    app.add_exception_handler(errors.DockyardError, _dockyard_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    for module in (catalog, networks, subnets, subnetpools, ports, security_groups):
        app.include_router(module.router)
    return app
