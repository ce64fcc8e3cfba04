"""/v1/registries: a project's private registries (Zun 1.30); passwords never answered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from dockyard.api import deps
from dockyard.api.compat import links, next_link
from dockyard.errors import InvalidValue, SchemaValidationError
from dockyard.schemas.problems import problems_line
from dockyard.schemas.registries import RegistryCreate, RegistryUpdate
from dockyard.services.registries import registry_view

router = APIRouter(prefix="/v1/registries")

FILTERS = ("name", "domain", "username", "project_id", "user_id")
LIST_PARAMS = {"limit", "marker", "sort_key", "sort_dir", "all_projects", *FILTERS}


def _view(request: Request, row: Any) -> dict[str, Any]:
    return {**registry_view(row), "links": links(deps.base_url(request), "registries", row.uuid)}


async def _body(request: Request, model: type[BaseModel]) -> Any:
    body = await deps.json_body(request, required=True)
    inner = body.get("registry")
    if set(body) != {"registry"} or not isinstance(inner, dict):
        raise InvalidValue('The body must be {"registry": {...}}.')
    try:
        return model.model_validate(inner)
    except ValidationError as exc:
        raise SchemaValidationError(problems_line(exc.errors())) from None


@router.post("")
async def create_registry(request: Request) -> JSONResponse:
    body: RegistryCreate = await _body(request, RegistryCreate)
    row = await deps.services(request).registries.create(deps.context(request), body)
    response = JSONResponse({"registry": _view(request, row)}, status_code=201)
    response.headers["Location"] = f"{deps.base_url(request)}/v1/registries/{row.uuid}"
    return response


@router.get("")
async def list_registries(request: Request) -> JSONResponse:
    query = request.query_params
    unknown = sorted(set(query) - LIST_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    paging = deps.page(request, "registry:get_all_all_projects")
    rows = await deps.services(request).registries.list(
        deps.context(request), {k: query[k] for k in FILTERS if k in query},
        limit=paging.limit, marker=paging.marker, sort_key=paging.sort_key,
        sort_dir=paging.sort_dir, all_projects=paging.all_projects,
    )  # fmt: skip
    views = [_view(request, r) for r in rows]
    sort = (paging.sort_key, paging.sort_dir)
    next_url = next_link(deps.base_url(request), "registries", views, paging.limit, sort)
    return JSONResponse({"registries": views, "next": next_url})


@router.get("/{ident}")
async def show_registry(request: Request, ident: str) -> JSONResponse:
    row = await deps.services(request).registries.get(deps.context(request), ident)
    return JSONResponse({"registry": _view(request, row)})


@router.patch("/{ident}")
async def update_registry(request: Request, ident: str) -> JSONResponse:
    patch: RegistryUpdate = await _body(request, RegistryUpdate)
    if not patch.model_fields_set:
        raise InvalidValue("Nothing to update: give domain, name, username or password.")
    row = await deps.services(request).registries.update(deps.context(request), ident, patch)
    return JSONResponse({"registry": _view(request, row)})


@router.delete("/{ident}", status_code=204)
async def delete_registry(request: Request, ident: str) -> Response:
    await deps.services(request).registries.delete(deps.context(request), ident)
    return Response(status_code=204)
