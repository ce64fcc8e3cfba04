"""/v1/sandboxes: the sandboxes containers run in (a Dockyard extension, read-only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.api.compat import next_link, parse_bool, parse_int
from dockyard.api.views import sandbox_view
from dockyard.services import policy

router = APIRouter(prefix="/v1/sandboxes")


@router.get("")
async def list_sandboxes(request: Request) -> JSONResponse:
    query = request.query_params
    max_limit = deps.services(request).settings.api.max_limit
    limit = min(parse_int(query.get("limit", max_limit), "limit", minimum=1), max_limit)
    ctx = deps.context(request)
    all_projects = parse_bool(query.get("all_projects", False), "all_projects")
    if all_projects:
        policy.authorize(ctx, "container:get_one_all_projects")
    found = await deps.services(request).sandboxes.list(
        ctx, limit=limit, marker=query.get("marker"), all_projects=all_projects
    )
    down = await deps.services(request).containers.hosts_down()
    base = deps.base_url(request)
    views = [sandbox_view(row, members, base, down_hosts=down) for row, members in found]
    return JSONResponse(
        {"sandboxes": views, "next": next_link(base, "sandboxes", views, limit, ("id", "asc"))}
    )


@router.get("/{ident}")
async def show_sandbox(request: Request, ident: str) -> JSONResponse:
    row, members = await deps.services(request).sandboxes.get(deps.context(request), ident)
    down = await deps.services(request).containers.hosts_down()
    return JSONResponse(sandbox_view(row, members, deps.base_url(request), down_hosts=down))
