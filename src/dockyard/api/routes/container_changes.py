"""/v1/containers/{id}/resize_container and rebuild: changes to a container's spec (Zun v1)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dockyard.api import deps
from dockyard.api.routes.containers import render_one, validation_message
from dockyard.errors import InvalidValue, SchemaValidationError
from dockyard.schemas.containers import ContainerUpdate

router = APIRouter(prefix="/v1/containers/{ident}")
RESIZE_PARAMS = {"cpu", "memory"}


@router.post("/resize_container")
async def resize_container(request: Request, ident: str) -> JSONResponse:
    """New cpu and/or memory (microversion 1.19), applied to a live container in place, with
    the same quota and host-capacity checks as PATCH."""
    deps.require_version(request, 1, 19)
    query = await deps.params(request)
    unknown = sorted(set(query) - RESIZE_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    if not query:
        raise InvalidValue("Nothing to resize: give cpu and/or memory.")
    try:
        patch = ContainerUpdate.model_validate(query)
    except ValidationError as exc:
        raise SchemaValidationError(validation_message(exc)) from None
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "resize", ident):
        row = await deps.services(request).containers.update(ctx, ident, patch)
    return await render_one(request, row, status=202)
