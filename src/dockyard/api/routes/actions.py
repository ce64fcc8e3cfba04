"""/v1/containers/{id}/container_actions: what each request did to a container (Zun v1)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dockyard.api import deps

router = APIRouter(prefix="/v1/containers/{ident}/container_actions")


@router.get("")
async def list_actions(request: Request, ident: str) -> JSONResponse:
    views = await deps.services(request).actions.list(deps.context(request), ident)
    return JSONResponse({"containerActions": views})


@router.get("/{request_id}")
async def show_action(request: Request, ident: str, request_id: str) -> JSONResponse:
    ctx = deps.context(request)
    return JSONResponse(await deps.services(request).actions.get(ctx, ident, request_id))
