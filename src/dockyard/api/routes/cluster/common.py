"""What the clustering routes share: the caller, the services, list queries, 202 answers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from dockyard.api import deps, subapi
from dockyard.api.routes.cluster.wire import PREFIX
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import InvalidValue
from dockyard.schemas.clusters import as_bool, as_int
from dockyard.services.clusters import Query
from dockyard.services.clusters_stack import Clustering

PAGING = {"limit", "marker", "sort", "global_project"}


def clustering(request: Request) -> Clustering:
    result: Clustering = subapi.parent_services(request).clustering
    return result


def context(request: Request) -> RequestContext:
    return deps.context(request)


def base_url(request: Request) -> str:
    """This API's root as clients reach it (webhook URLs are built on it)."""
    return subapi.base_url(request, PREFIX)


async def body(request: Request) -> dict[str, Any]:
    return await deps.json_body(request, required=True)


async def optional_body(request: Request) -> dict[str, Any]:
    return await deps.json_body(request, required=False)


def query(request: Request, filters: set[str], ignored: frozenset[str] = frozenset()) -> Query:
    """A list request's filters and paging; an unknown parameter is a 400, as in Senlin."""
    params = request.query_params
    for key in params:
        if key not in filters | PAGING | ignored:
            raise InvalidValue(f"Invalid parameter {key}")
    found: dict[str, Any] = {}
    for key in filters:
        values = params.getlist(key)
        if values:
            found[key] = values if len(values) > 1 else values[0]
    limit = as_int(params.get("limit", 1000), "limit", minimum=0) or 1000
    return Query(
        filters=found, limit=min(limit, 1000), marker=params.get("marker"),
        sort=_sort(params.get("sort")),
        global_project=as_bool(params.get("global_project", False), "global_project"),
    )  # fmt: skip


def _sort(text: str | None) -> tuple[tuple[str, str], ...]:
    result = []
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, _, direction = item.strip().partition(":")
        direction = direction or "asc"
        if direction not in ("asc", "desc"):
            raise InvalidValue(f"Unsupported sort dir '{direction}' for '{key}'.")
        result.append((key, direction))
    return tuple(result)


def accepted(request: Request, action_id: str, content: dict[str, Any] | None = None) -> Response:
    """202 with the action's Location (openstacksdk reads it, even on DELETE)."""
    headers = {"Location": f"{base_url(request)}/v1/actions/{action_id}"}
    if content is None:
        return Response(status_code=202, headers=headers)
    return JSONResponse(content, status_code=202, headers=headers)
