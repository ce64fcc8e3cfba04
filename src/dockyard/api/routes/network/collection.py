"""The five routes of a plain Neutron collection (list, create, show, update, delete): subnets
and subnet pools differ only in names, models and service methods, so one builder makes both."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from dockyard.api.routes.network import wire
from dockyard.domain.tenancy import RequestContext
from dockyard.services.networks import FILTERS, NetworkService

Filters = dict[str, list[Any]]
Row = TypeVar("Row")


@dataclass(frozen=True)
class Collection(Generic[Row]):
    """One collection's wire names, models and view, and the NetworkService methods behind it
    (unbound, so that a search for a service method finds its route)."""

    plural: str  # the path, the list's key and the FILTERS entry: "subnets"
    member: str  # the key of a body and of an answer: "subnet"
    view: Callable[[Row], dict[str, Any]]
    create_model: type[BaseModel]
    update_model: type[BaseModel]
    list_rows: Callable[[NetworkService, RequestContext, Filters], Awaitable[Sequence[Row]]]
    get_row: Callable[[NetworkService, RequestContext, str], Awaitable[Row]]
    create_row: Callable[[NetworkService, RequestContext, Any], Awaitable[Row]]
    update_row: Callable[[NetworkService, RequestContext, str, Any], Awaitable[Row]]
    delete_row: Callable[[NetworkService, RequestContext, str], Awaitable[None]]


def _networks(request: Request) -> NetworkService:
    service: NetworkService = wire.services(request).networks
    return service


def collection_router(spec: Collection[Row]) -> APIRouter:
    """The collection's routes at /v2.0/<plural>, in Neutron's envelopes and projections."""
    router = APIRouter(prefix=f"/v2.0/{spec.plural}")

    @router.get("")
    async def list_all(request: Request) -> dict[str, Any]:
        filters = wire.filters_of(request, FILTERS[spec.plural])
        rows = await spec.list_rows(_networks(request), wire.context(request), filters)
        return {spec.plural: [wire.shaped(request, spec.view(r)) for r in rows]}

    @router.post("")
    async def create(request: Request) -> JSONResponse:
        body = await wire.body_of(request, spec.member, spec.create_model)
        row = await spec.create_row(_networks(request), wire.context(request), body)
        return JSONResponse({spec.member: spec.view(row)}, status_code=201)

    @router.get("/{ident}")
    async def show(request: Request, ident: str) -> dict[str, Any]:
        row = await spec.get_row(_networks(request), wire.context(request), ident)
        return {spec.member: wire.shaped(request, spec.view(row))}

    @router.put("/{ident}")
    async def update(request: Request, ident: str) -> dict[str, Any]:
        patch = await wire.body_of(request, spec.member, spec.update_model)
        row = await spec.update_row(_networks(request), wire.context(request), ident, patch)
        return {spec.member: spec.view(row)}

    @router.delete("/{ident}", status_code=204)
    async def delete(request: Request, ident: str) -> Response:
        await spec.delete_row(_networks(request), wire.context(request), ident)
        return Response(status_code=204)

    return router
