"""The one table from Dockyard errors to HTTP statuses, rendered in Zun's error format."""

from __future__ import annotations

import logging
import re
import uuid
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dockyard import errors
from dockyard.api.compat import added_headers, error_body
from dockyard.schemas.problems import problems_line

log = logging.getLogger(__name__)

# Most specific first: the first entry the error is an instance of decides the status.
STATUS_TABLE: list[tuple[type[errors.DockyardError], int]] = [
    (errors.Unauthenticated, 401),
    (errors.NotAuthorized, 403),
    (errors.NotFound, 404),
    (errors.MicroversionUnsupported, 406),
    (errors.MethodNotAllowedInVersion, 406),
    (errors.Conflict, 409),
    (errors.UnsupportedMediaType, 415),
    (errors.Invalid, 400),
    (errors.AgentFailure, 502),
    (errors.RegistryRefused, 502),
    (errors.RegistryUnreachable, 503),
    (errors.HostUnavailable, 503),
    (errors.IdentityUnavailable, 503),
]


def status_of(exc: errors.DockyardError) -> int:
    for kind, status in STATUS_TABLE:
        if isinstance(exc, kind):
            return status
    return 500


def kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def zun_error(request: Request, status: int, code: str, text: str) -> Response:
    headers = {"WWW-Authenticate": 'Keystone uri="unset"'} if status == 401 else None
    body = error_body(status, code, text, text, _request_id(request))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def _dockyard_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, errors.DockyardError):  # registered for that class only
        raise exc
    status = status_of(exc)
    if status >= 500:
        return _server_error(request, status, exc)
    return zun_error(request, status, f"container.{kebab(type(exc).__name__)}", exc.text)


async def _validation_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):  # registered for that class only
        raise exc
    text = problems_line(exc.errors(), skip=1)
    return zun_error(request, 400, "container.schema-validation-error", text or "Invalid input.")


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):  # registered for that class only
        raise exc
    if exc.status_code == 404:  # no route has this path: say so, not "no such container"
        text = f"No route {request.method} {request.url.path}: Dockyard does not serve it."
        return zun_error(request, 404, "container.route-not-found", text)
    if exc.status_code == 405:
        text = f"The route {request.url.path} does not accept {request.method}."
        return zun_error(request, 405, "container.method-not-allowed", text)
    phrase = HTTPStatus(exc.status_code).phrase
    code = f"container.{kebab(phrase.replace(' ', ''))}"
    return zun_error(request, exc.status_code, code, str(exc.detail or phrase))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Starlette answers unhandled errors outside ZunCompatMiddleware: add its headers here.
    response = _server_error(request, 500, exc)
    for name, value in added_headers(request.scope.get("state", {})):
        response.headers.append(name.decode(), value.decode())
    return response


def _server_error(request: Request, status: int, exc: Exception) -> Response:
    correlation = str(uuid.uuid4())
    log.error(
        "request %s failed (correlation %s): %r",
        _request_id(request),
        correlation,
        exc,
        exc_info=status == 500,
    )
    detail = (
        "Your request could not be handled because of a problem in the server. "
        f"Error Correlation id is: {correlation}"
    )
    if isinstance(exc, errors.DockyardError):
        detail = f"{exc.text} (Error Correlation id is: {correlation})"
    title = exc.text if isinstance(exc, errors.UpstreamFailure) else HTTPStatus(status).phrase
    body = error_body(status, "container.", title, detail, _request_id(request))
    return Response(body, status_code=status, media_type="application/json")


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.DockyardError, _dockyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
