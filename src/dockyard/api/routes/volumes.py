"""/v1/volumes: a project's named volumes (a Dockyard extension; Zun has no volume API and
takes volumes only through `mounts`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dockyard.api import deps
from dockyard.api.compat import links, next_link
from dockyard.errors import InvalidValue, SchemaValidationError
from dockyard.schemas.problems import problems_line
from dockyard.schemas.volumes import VolumeCreate

router = APIRouter(prefix="/v1/volumes")

LIST_PARAMS = {"limit", "marker", "sort_key", "sort_dir", "all_projects"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _view(request: Request, row: Any, users: list[str]) -> dict[str, Any]:
    names = {"host": row.host_uuid} if deps.context(request).is_admin else {}
    return {
        "uuid": row.uuid, "name": row.name, "size": row.size, "backend": row.backend,
        "in_use": bool(users), "containers": users, "project_id": row.project_id,
        "user_id": row.user_id, "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at), **names,
        "links": links(deps.base_url(request), "volumes", row.uuid),
    }  # fmt: skip


@router.post("")
async def create_volume(request: Request) -> JSONResponse:
    body = await deps.json_body(request, required=True)
    inner = body.get("volume")
    if set(body) != {"volume"} or not isinstance(inner, dict):
        raise InvalidValue('The body must be {"volume": {...}}.')
    try:
        create = VolumeCreate.model_validate(inner)
    except ValidationError as exc:
        raise SchemaValidationError(problems_line(exc.errors())) from None
    row = await deps.services(request).volumes.create(deps.context(request), create)
    response = JSONResponse({"volume": _view(request, row, [])}, status_code=201)
    response.headers["Location"] = f"{deps.base_url(request)}/v1/volumes/{row.uuid}"
    return response


@router.get("")
async def list_volumes(request: Request) -> JSONResponse:
    unknown = sorted(set(request.query_params) - LIST_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    paging = deps.page(request, "volume:get_all_all_projects")
    found = await deps.services(request).volumes.list(
        deps.context(request), limit=paging.limit, marker=paging.marker,
        sort_key=paging.sort_key, sort_dir=paging.sort_dir, all_projects=paging.all_projects,
    )  # fmt: skip
    views = [_view(request, row, users) for row, users in found]
    sort = (paging.sort_key, paging.sort_dir)
    next_url = next_link(deps.base_url(request), "volumes", views, paging.limit, sort)
    return JSONResponse({"volumes": views, "next": next_url})


@router.get("/{ident}")
async def show_volume(request: Request, ident: str) -> JSONResponse:
    row, users = await deps.services(request).volumes.get(deps.context(request), ident)
    return JSONResponse({"volume": _view(request, row, users)})


@router.delete("/{ident}", status_code=204)
async def delete_volume(request: Request, ident: str) -> Response:
    await deps.services(request).volumes.delete(deps.context(request), ident)
    return Response(status_code=204)
