"""/v1/hosts: the compute hosts (admin only, microversion 1.4+)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.api.compat import parse_int
from dockyard.api.views import host_view
from dockyard.errors import InvalidValue
from dockyard.services import policy

router = APIRouter(prefix="/v1/hosts")


@router.get("")
async def list_hosts(request: Request) -> JSONResponse:
    deps.require_version(request, 1, 4)
    policy.authorize(deps.context(request), "host:get_all")
    query = request.query_params
    max_limit = deps.services(request).settings.api.max_limit
    limit = min(parse_int(query.get("limit", max_limit), "limit", minimum=1), max_limit)
    if query.get("sort_key", "hostname") != "hostname" or query.get("sort_dir", "asc") != "asc":
        raise InvalidValue("Hosts are listed by hostname, ascending (sort_key=hostname).")
    rows, counts = await deps.services(request).admin.list_hosts(limit, query.get("marker"))
    base = deps.base_url(request)
    hosts = [host_view(r, base, total_containers=counts.get(r.uuid, 0)) for r in rows]
    more = len(rows) == limit
    next_url = f"{base}/v1/hosts?limit={limit}&marker={rows[-1].uuid}" if more and rows else None
    return JSONResponse({"hosts": hosts, "next": next_url})


@router.get("/{ident}")
async def show_host(request: Request, ident: str) -> JSONResponse:
    deps.require_version(request, 1, 4)
    policy.authorize(deps.context(request), "host:get")
    services = deps.services(request)
    row = await services.hosts.get(ident)
    total = await services.admin.count_containers(row.uuid)
    return JSONResponse(host_view(row, deps.base_url(request), total_containers=total))
