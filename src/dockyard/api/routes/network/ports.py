"""/v2.0/ports: the addresses containers hold (read-only: Dockyard makes them on attach)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dockyard.api.routes.network import wire
from dockyard.services.netviews import port_view
from dockyard.services.ports import PORT_FILTERS

router = APIRouter(prefix="/v2.0/ports")


@router.get("")
async def list_ports(request: Request) -> dict[str, Any]:
    filters = wire.filters_of(request, PORT_FILTERS)
    rows = await wire.services(request).ports.list(wire.context(request), filters)
    return {"ports": [wire.shaped(request, port_view(r)) for r in rows]}


@router.get("/{ident}")
async def show_port(request: Request, ident: str) -> dict[str, Any]:
    row = await wire.services(request).ports.get(wire.context(request), ident)
    return {"port": wire.shaped(request, port_view(row))}
