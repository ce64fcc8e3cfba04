"""/v2.0/subnets: address ranges of networks (from a CIDR, or carved from a subnet pool)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api.routes.network import wire
from dockyard.schemas.networks import SubnetCreate, SubnetUpdate
from dockyard.services.netviews import subnet_view
from dockyard.services.networks import FILTERS

router = APIRouter(prefix="/v2.0/subnets")


@router.get("")
async def list_subnets(request: Request) -> dict[str, Any]:
    filters = wire.filters_of(request, FILTERS["subnets"])
    rows = await wire.services(request).networks.list_subnets(wire.context(request), filters)
    return {"subnets": [wire.shaped(request, subnet_view(r)) for r in rows]}


@router.post("")
async def create_subnet(request: Request) -> JSONResponse:
    body: SubnetCreate = await wire.body_of(request, "subnet", SubnetCreate)
    row = await wire.services(request).networks.create_subnet(wire.context(request), body)
    return JSONResponse({"subnet": subnet_view(row)}, status_code=201)


@router.get("/{ident}")
async def show_subnet(request: Request, ident: str) -> dict[str, Any]:
    row = await wire.services(request).networks.get_subnet(wire.context(request), ident)
    return {"subnet": wire.shaped(request, subnet_view(row))}


@router.put("/{ident}")
async def update_subnet(request: Request, ident: str) -> dict[str, Any]:
    patch: SubnetUpdate = await wire.body_of(request, "subnet", SubnetUpdate)
    row = await wire.services(request).networks.update_subnet(wire.context(request), ident, patch)
    return {"subnet": subnet_view(row)}


@router.delete("/{ident}", status_code=204)
async def delete_subnet(request: Request, ident: str) -> Response:
    await wire.services(request).networks.delete_subnet(wire.context(request), ident)
    return Response(status_code=204)
