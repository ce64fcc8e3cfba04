"""/v1/sandboxes: the sandboxes containers run in (a Dockyard extension, read-only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.api.compat import next_link
from dockyard.api.views import sandbox_view

router = APIRouter(prefix="/v1/sandboxes")


@router.get("")
async def list_sandboxes(request: Request) -> JSONResponse:
    paging = deps.page(request, "sandbox:get_all_all_projects")
    limit = paging.limit
    found = await deps.services(request).sandboxes.list(
        deps.context(request), limit=limit, marker=paging.marker, all_projects=paging.all_projects
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
