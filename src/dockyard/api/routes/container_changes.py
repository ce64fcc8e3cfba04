"""/v1/containers/{id}/resize_container and rebuild: changes to a container's spec (Zun v1)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dockyard.api import deps
from dockyard.api.routes.containers import render_one, validation_message
from dockyard.errors import InvalidValue, SchemaValidationError
from dockyard.schemas.containers import ContainerUpdate, check_image_reference

router = APIRouter(prefix="/v1/containers/{ident}")
RESIZE_PARAMS = {"cpu", "memory"}
REBUILD_PARAMS = {"image", "image_driver"}


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
    # Zun records a resize_container as an update (the TTY resize is "resize")
    async with deps.services(request).actions.recorded(ctx, "update", ident):
        row = await deps.services(request).containers.update(ctx, ident, patch)
    return await render_one(request, row, status=202)


@router.post("/rebuild")
async def rebuild(request: Request, ident: str) -> Response:
    """Remake the container (optionally from a new image) under the same uuid and name; it
    shows Rebuilding until its host reports, and comes back in the state it was asked for."""
    query = await deps.params(request)
    unknown = sorted(set(query) - REBUILD_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    image = query.get("image")
    if image is not None:
        if not isinstance(image, str):
            raise InvalidValue("image must be a string.")
        try:
            check_image_reference(image)
        except ValueError as exc:
            raise InvalidValue(str(exc)) from None
    if query.get("image_driver") not in (None, "docker"):
        raise InvalidValue("image_driver must be 'docker' ('glance' is not available).")
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "rebuild", ident):
        await deps.services(request).containers.rebuild(ctx, ident, image)
    return Response(status_code=202)
