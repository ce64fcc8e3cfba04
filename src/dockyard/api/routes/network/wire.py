"""Neutron's wire conventions: the path prefix, the fault document, list filters and fields."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ValidationError

from dockyard import errors
from dockyard.api import deps, subapi
from dockyard.api.errors import status_of
from dockyard.domain.tenancy import RequestContext
from dockyard.schemas.problems import problems_line

PREFIX = "/network"
_PUBLIC = {PREFIX, f"{PREFIX}/", f"{PREFIX}/v2.0", f"{PREFIX}/v2.0/"}
# Paging and projection parameters: accepted on every list, filters are the rest.
_LIST_PARAMS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}
_QUOTED = re.compile(r"'([^']+)'")
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def is_network_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def is_public(method: str, path: str) -> bool:
    """Only the version documents, as keystonemiddleware leaves them to Neutron."""
    return method in ("GET", "HEAD") and path in _PUBLIC


_GENERIC: list[tuple[type[errors.DockyardError], str]] = [
    (errors.Unauthenticated, "HTTPUnauthorized"),
    (errors.NotAuthorized, "PolicyNotAuthorized"),
    (errors.NotFound, "HTTPNotFound"),
    (errors.Conflict, "Conflict"),
    (errors.Invalid, "HTTPBadRequest"),
]


def error_type(exc: errors.DockyardError) -> str:
    """Neutron's fault type: the class name where it is one of Neutron's, else the family's."""
    name = type(exc).__name__
    if name.endswith(("NotFound", "InUse")) and name not in ("NotFound", "ResourceNotFound"):
        return name
    if name in ("IpAddressGenerationFailure", "IpAddressAlreadyAllocated", "InvalidInput"):
        return name
    return next((kind for cls, kind in _GENERIC if isinstance(exc, cls)), "HTTPInternalServerError")


def error_document(kind: str, message: str) -> bytes:
    return json.dumps({"NeutronError": {"type": kind, "message": message, "detail": ""}}).encode()


def error_of(exc: errors.DockyardError) -> tuple[int, bytes]:
    return status_of(exc), error_document(error_type(exc), exc.text)


def context(request: Request) -> RequestContext:
    return deps.context(request)


def services(request: Request) -> Any:
    return subapi.parent_services(request)


async def body_of(request: Request, key: str, model: type[BaseModel]) -> Any:
    """The object under `key` in the JSON body, validated: Neutron's one-object envelope."""
    body = await deps.json_body(request, required=True)
    inner = body.get(key)
    if set(body) != {key} or not isinstance(inner, dict):
        raise errors.InvalidValue(f'Resource body required: {{"{key}": {{...}}}}.')
    try:
        return model.model_validate(inner)
    except ValidationError as exc:
        raise errors.InvalidValue(
            f"Invalid input for operation: {problems_line(exc.errors())}"
        ) from None


def filters_of(request: Request, columns: dict[str, Any]) -> dict[str, list[Any]]:
    """Neutron's list filters (`?name=a&name=b`), typed by the column; others are a 400."""
    found: dict[str, list[Any]] = {}
    for key in request.query_params:
        if key in _LIST_PARAMS:
            continue
        column = columns.get(key)
        if column is None:
            raise errors.InvalidValue(f"{key} is invalid attribute for filtering")
        found[key] = [_typed(column, v, key) for v in request.query_params.getlist(key)]
    return found


def _typed(column: Any, value: str, key: str) -> Any:
    kind = column.type.python_type
    if kind is bool:
        if value.lower() not in _TRUE | _FALSE:
            raise errors.InvalidValue(f"Invalid input for {key}: '{value}' is not a boolean.")
        return value.lower() in _TRUE
    if kind is int:
        try:
            return int(value)
        except ValueError:
            raise errors.InvalidValue(
                f"Invalid input for {key}: '{value}' is not an integer."
            ) from None
    return value


def shaped(request: Request, view: dict[str, Any]) -> dict[str, Any]:
    """The view cut to `?fields=…` when given (Neutron's projection)."""
    fields: set[str] = set()
    for value in request.query_params.getlist("fields"):
        # openstacksdk sends a list as its Python repr in one parameter: "['id', 'name']".
        fields.update(_QUOTED.findall(value) if value.startswith("[") else [value])
    return {k: v for k, v in view.items() if k in fields} if fields else view


def base_url(request: Request) -> str:
    return subapi.base_url(request, PREFIX)
