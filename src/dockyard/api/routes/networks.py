"""/v1/networks: Zun's container-network objects (create 1.1, delete 1.27; list and show are
Dockyard's), for every project."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dockyard.api import deps
from dockyard.errors import SchemaValidationError
from dockyard.schemas.networks import ContainerNetworkCreate
from dockyard.schemas.problems import problems_line
from dockyard.services.zunnetworks import zun_network_view

router = APIRouter(prefix="/v1/networks")


@router.post("")
async def create_network(request: Request) -> JSONResponse:
    body = await deps.json_body(request, required=True)
    try:
        wanted = ContainerNetworkCreate.model_validate(body)
    except ValidationError as exc:
        raise SchemaValidationError(problems_line(exc.errors())) from None
    row = await deps.services(request).zunnetworks.create(deps.context(request), wanted)
    return JSONResponse(zun_network_view(row))


@router.get("")
async def list_networks(request: Request) -> JSONResponse:
    rows = await deps.services(request).zunnetworks.list(deps.context(request))
    return JSONResponse({"networks": [zun_network_view(r) for r in rows]})


@router.get("/{ident}")
async def show_network(request: Request, ident: str) -> JSONResponse:
    row = await deps.services(request).zunnetworks.get(deps.context(request), ident)
    return JSONResponse(zun_network_view(row))


@router.delete("/{ident}", status_code=204)
async def delete_network(request: Request, ident: str) -> Response:
    deps.require_version(request, 1, 27)
    await deps.services(request).zunnetworks.delete(deps.context(request), ident)
    return Response(status_code=204)
