"""/v2.0/subnetpools: prefixes subnets are carved from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api.routes.network import wire
from dockyard.schemas.networks import SubnetPoolCreate, SubnetPoolUpdate
from dockyard.services.netviews import subnetpool_view
from dockyard.services.networks import FILTERS

router = APIRouter(prefix="/v2.0/subnetpools")


@router.get("")
async def list_pools(request: Request) -> dict[str, Any]:
    filters = wire.filters_of(request, FILTERS["subnetpools"])
    rows = await wire.services(request).networks.list_pools(wire.context(request), filters)
    return {"subnetpools": [wire.shaped(request, subnetpool_view(r)) for r in rows]}


@router.post("")
async def create_pool(request: Request) -> JSONResponse:
    body: SubnetPoolCreate = await wire.body_of(request, "subnetpool", SubnetPoolCreate)
    row = await wire.services(request).networks.create_pool(wire.context(request), body)
    return JSONResponse({"subnetpool": subnetpool_view(row)}, status_code=201)


@router.get("/{ident}")
async def show_pool(request: Request, ident: str) -> dict[str, Any]:
    row = await wire.services(request).networks.get_pool(wire.context(request), ident)
    return {"subnetpool": wire.shaped(request, subnetpool_view(row))}


@router.put("/{ident}")
async def update_pool(request: Request, ident: str) -> dict[str, Any]:
    patch: SubnetPoolUpdate = await wire.body_of(request, "subnetpool", SubnetPoolUpdate)
    row = await wire.services(request).networks.update_pool(wire.context(request), ident, patch)
    return {"subnetpool": subnetpool_view(row)}


@router.delete("/{ident}", status_code=204)
async def delete_pool(request: Request, ident: str) -> Response:
    await wire.services(request).networks.delete_pool(wire.context(request), ident)
    return Response(status_code=204)
