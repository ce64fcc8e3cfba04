"""/v1/capsules: Zun's pods — create from a template, list, show, delete (async from 1.32)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.api.compat import next_link
from dockyard.api.views import capsule_view
from dockyard.errors import InvalidValue
from dockyard.schemas.capsules import parse_template
from dockyard.services.capsules import CapsuleView

router = APIRouter(prefix="/v1/capsules")


async def _render(request: Request, views: list[CapsuleView]) -> list[dict[str, Any]]:
    svc = deps.services(request).containers
    version = deps.api_version(request)
    hosts = {v.sandbox.host_uuid for v in views if v.sandbox and v.sandbox.host_uuid}
    hostnames = await svc.host_names(hosts)
    down = await svc.hosts_down()
    ctx, base = deps.context(request), deps.base_url(request)
    return [
        capsule_view(v, ctx, base, (version.major, version.minor), hostnames=hostnames,
                     down_hosts=down)
        for v in views
    ]  # fmt: skip


@router.post("")
async def create_capsule(request: Request) -> Response:
    body = await deps.json_body(request, required=True)
    unknown = sorted(set(body) - {"template"})
    if "template" not in body or unknown:
        raise InvalidValue("The body must be {\"template\": {...}}" +
                           (f"; unexpected: {', '.join(unknown)}" if unknown else ""))  # fmt: skip
    version = deps.api_version(request)
    spec = parse_template(body["template"], (version.major, version.minor))
    view = await deps.services(request).capsules.create(deps.context(request), spec)
    (rendered,) = await _render(request, [view])
    response = JSONResponse(rendered, status_code=202)
    response.headers["Location"] = f"{deps.base_url(request)}/v1/capsules/{view.row.uuid}"
    return response


@router.get("")
async def list_capsules(request: Request) -> JSONResponse:
    paging = deps.page(request, "capsule:get_all_all_projects")
    limit, sort_dir = paging.limit, paging.sort_dir
    views = await deps.services(request).capsules.list(
        deps.context(request), limit=limit, marker=paging.marker, sort_dir=sort_dir,
        all_projects=paging.all_projects,
    )  # fmt: skip
    rendered = await _render(request, views)
    base = deps.base_url(request)
    return JSONResponse(
        {
            "capsules": rendered,
            "next": next_link(base, "capsules", rendered, limit, ("id", sort_dir)),
        }
    )


@router.get("/{ident}")
async def show_capsule(request: Request, ident: str) -> JSONResponse:
    view = await deps.services(request).capsules.get(deps.context(request), ident)
    (rendered,) = await _render(request, [view])
    return JSONResponse(rendered)


@router.delete("/{ident}", status_code=204)
async def delete_capsule(request: Request, ident: str) -> Response:
    await deps.services(request).capsules.delete(deps.context(request), ident)
    return Response(status_code=204)
