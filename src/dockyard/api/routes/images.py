"""/v1/images: images pulled onto hosts (Zun v1; administrators by default, search for all)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.api.compat import links, next_link, parse_bool
from dockyard.errors import InvalidValue
from dockyard.services.images import image_view

router = APIRouter(prefix="/v1/images")

PULL_FIELDS = {"repo", "tag", "host", "image_pull_policy", "image_id", "size"}
LIST_PARAMS = {"limit", "marker", "sort_key", "sort_dir"}


async def _views(request: Request, rows: list[Any]) -> list[dict[str, Any]]:
    names = await deps.services(request).images.host_names({r.host_uuid for r in rows})
    base = deps.base_url(request)
    return [
        {**image_view(r, names.get(r.host_uuid)), "links": links(base, "images", r.uuid)}
        for r in rows
    ]


@router.post("")
async def pull_image(request: Request) -> Response:
    body = await deps.json_body(request, required=True)
    unknown = sorted(set(body) - PULL_FIELDS)
    if unknown:
        raise InvalidValue(f"Unknown fields: {', '.join(unknown)}")
    for name in ("repo", "host"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise InvalidValue(f"{name} is required (a string).")
    for name in ("tag", "image_pull_policy"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidValue(f"{name} must be a string.")
    row = await deps.services(request).images.pull(
        deps.context(request), body["repo"], body.get("tag"), body["host"],
        body.get("image_pull_policy"),
    )  # fmt: skip
    (view,) = await _views(request, [row])
    response = JSONResponse(view, status_code=202)
    response.headers["Location"] = f"{deps.base_url(request)}/v1/images/{row.uuid}"
    return response


@router.get("")
async def list_images(request: Request) -> JSONResponse:
    unknown = sorted(set(request.query_params) - LIST_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    paging = deps.page(request, "image:get_all")
    rows = await deps.services(request).images.list(
        limit=paging.limit, marker=paging.marker, sort_key=paging.sort_key,
        sort_dir=paging.sort_dir,
    )  # fmt: skip
    views = await _views(request, list(rows))
    sort = (paging.sort_key, paging.sort_dir)
    next_url = next_link(deps.base_url(request), "images", views, paging.limit, sort)
    return JSONResponse({"images": views, "next": next_url})


@router.get("/{image:path}/search")
async def search_image(request: Request, image: str) -> JSONResponse:
    query = request.query_params
    driver = query.get("image_driver") or "docker"
    if driver != "docker":
        raise InvalidValue(f"image_driver {driver!r} is not available; use 'docker'.")
    exact = parse_bool(query.get("exact_match", False), "exact_match")
    found = await deps.services(request).images.search(deps.context(request), image, exact)
    return JSONResponse(list(found))


@router.get("/{ident}")
async def show_image(request: Request, ident: str) -> JSONResponse:
    row = await deps.services(request).images.get(ident)
    (view,) = await _views(request, [row])
    return JSONResponse(view)


@router.delete("/{ident}")
async def delete_image(request: Request, ident: str) -> Response:
    await deps.services(request).images.delete(ident)
    return Response(status_code=200)
