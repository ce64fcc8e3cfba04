"""/v1/hosts: the compute hosts (admin only, microversion 1.4+)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.api.views import host_view
from dockyard.services import policy

router = APIRouter(prefix="/v1/hosts")


@router.get("")
async def list_hosts(request: Request) -> JSONResponse:
    deps.require_version(request, 1, 4)
    policy.authorize(deps.context(request), "host:get_all")
    rows = await deps.services(request).hosts.list()
    base = deps.base_url(request)
    return JSONResponse({"hosts": [host_view(r, base) for r in rows], "next": None})


@router.get("/{ident}")
async def show_host(request: Request, ident: str) -> JSONResponse:
    deps.require_version(request, 1, 4)
    policy.authorize(deps.context(request), "host:get")
    row = await deps.services(request).hosts.get(ident)
    return JSONResponse(host_view(row, deps.base_url(request)))
