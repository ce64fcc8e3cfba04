"""The routes of Senlin's two objects made from a spec, profiles and policies (validate,
create, list, show, update, delete): they differ only in names, list parameters and service
methods, so one builder adds both to the catalog's router."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dockyard.api.routes.cluster import common
from dockyard.domain.tenancy import RequestContext
from dockyard.services.clusters import ClusterService, Query

View = dict[str, Any]
NAME_TYPE = {"name", "type"}


@dataclass(frozen=True)
class SpecObject:
    """One kind's wire names and the ClusterService methods behind its routes (unbound, so
    that a search for a service method finds its route)."""

    plural: str  # the path and the list's key: "profiles"
    member: str  # the key of a body and of an answer: "profile"
    ignored: frozenset[str]  # list parameters accepted and ignored
    validate: Callable[[ClusterService, RequestContext, Any], Awaitable[dict[str, Any]]]
    create: Callable[[ClusterService, RequestContext, dict[str, Any]], Awaitable[View]]
    list_views: Callable[[ClusterService, RequestContext, Query], Awaitable[list[View]]]
    get: Callable[[ClusterService, RequestContext, str], Awaitable[View]]
    update: Callable[[ClusterService, RequestContext, str, dict[str, Any]], Awaitable[View]]
    delete: Callable[[ClusterService, RequestContext, str], Awaitable[None]]


def add_spec_object_routes(router: APIRouter, kind: SpecObject) -> None:
    """/v1/<plural>, /v1/<plural>/validate and /v1/<plural>/{ident} on `router`."""
    root = f"/v1/{kind.plural}"

    @router.post(f"{root}/validate")
    async def validate(request: Request) -> dict[str, Any]:
        data = (await common.body(request)).get(kind.member) or {}
        spec = await kind.validate(_service(request), common.context(request), data.get("spec"))
        return {kind.member: {"spec": spec, "type": f"{spec['type']}-{spec['version']}"}}

    @router.post(root)
    async def create(request: Request) -> Response:
        body = await common.body(request)
        view = await kind.create(_service(request), common.context(request), body)
        return JSONResponse({kind.member: view}, status_code=201)

    @router.get(root)
    async def list_all(request: Request) -> dict[str, Any]:
        query = common.query(request, NAME_TYPE, kind.ignored)
        return {
            kind.plural: await kind.list_views(_service(request), common.context(request), query)
        }

    @router.get(f"{root}/{{ident}}")
    async def show(request: Request, ident: str) -> dict[str, Any]:
        return {kind.member: await kind.get(_service(request), common.context(request), ident)}

    @router.patch(f"{root}/{{ident}}")
    async def update(request: Request, ident: str) -> dict[str, Any]:
        body = await common.body(request)
        view = await kind.update(_service(request), common.context(request), ident, body)
        return {kind.member: view}

    @router.delete(f"{root}/{{ident}}", status_code=204)
    async def delete(request: Request, ident: str) -> Response:
        await kind.delete(_service(request), common.context(request), ident)
        return Response(status_code=204)


def _service(request: Request) -> ClusterService:
    return common.clustering(request).clusters
