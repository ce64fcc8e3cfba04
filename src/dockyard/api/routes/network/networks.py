"""/v2.0/networks: a project's tenant networks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api.routes.network import wire
from dockyard.schemas.networks import NetworkCreate, NetworkUpdate
from dockyard.services.netviews import network_view
from dockyard.services.networks import FILTERS

router = APIRouter(prefix="/v2.0/networks")


def _view(request: Request, row: Any, subnets: list[str]) -> dict[str, Any]:
    return wire.shaped(request, network_view(row, subnets, admin=wire.context(request).is_admin))


@router.get("")
async def list_networks(request: Request) -> dict[str, Any]:
    filters = wire.filters_of(request, FILTERS["networks"])
    found = await wire.services(request).networks.list_networks(wire.context(request), filters)
    return {"networks": [_view(request, row, subnets) for row, subnets in found]}


@router.post("")
async def create_network(request: Request) -> JSONResponse:
    body: NetworkCreate = await wire.body_of(request, "network", NetworkCreate)
    row = await wire.services(request).networks.create_network(wire.context(request), body)
    return JSONResponse({"network": _view(request, row, [])}, status_code=201)


@router.get("/{ident}")
async def show_network(request: Request, ident: str) -> dict[str, Any]:
    row, subnets = await wire.services(request).networks.get_network(wire.context(request), ident)
    return {"network": _view(request, row, subnets)}


@router.put("/{ident}")
async def update_network(request: Request, ident: str) -> dict[str, Any]:
    patch: NetworkUpdate = await wire.body_of(request, "network", NetworkUpdate)
    svc = wire.services(request).networks
    row, subnets = await svc.update_network(wire.context(request), ident, patch)
    return {"network": _view(request, row, subnets)}


@router.delete("/{ident}", status_code=204)
async def delete_network(request: Request, ident: str) -> Response:
    await wire.services(request).networks.delete_network(wire.context(request), ident)
    return Response(status_code=204)
