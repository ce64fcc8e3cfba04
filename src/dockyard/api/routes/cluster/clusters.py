"""Clusters, their action verbs and their policy bindings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dockyard.api.routes.cluster import common
from dockyard.schemas.clusters import as_bool

router = APIRouter(prefix="/v1/clusters")


@router.post("")
async def create_cluster(request: Request) -> Response:
    svc = common.clustering(request).clusters
    view, action = await svc.create_cluster(common.context(request), await common.body(request))
    return common.accepted(request, action, {"cluster": view})


@router.get("")
async def list_clusters(request: Request) -> dict[str, Any]:
    query = common.query(request, {"name", "status"})
    svc = common.clustering(request).clusters
    return {"clusters": await svc.list_clusters(common.context(request), query)}


@router.get("/{ident}")
async def get_cluster(request: Request, ident: str) -> dict[str, Any]:
    svc = common.clustering(request).clusters
    return {"cluster": await svc.get_cluster(common.context(request), ident)}


@router.patch("/{ident}")
async def update_cluster(request: Request, ident: str) -> Response:
    svc = common.clustering(request).clusters
    body = await common.body(request)
    view, action = await svc.update_cluster(common.context(request), ident, body)
    return common.accepted(request, action, {"cluster": view})


@router.delete("/{ident}")
async def delete_cluster(request: Request, ident: str) -> Response:
    # `force` (query or body) is accepted: deleting always removes the members.
    body = await common.optional_body(request)
    as_bool(request.query_params.get("force", body.get("force", False)), "force")
    svc = common.clustering(request).clusters
    return common.accepted(request, await svc.delete_cluster(common.context(request), ident))


@router.post("/{ident}/actions")
async def cluster_action(request: Request, ident: str) -> Response:
    actions = common.clustering(request).actions
    action = await actions.run(common.context(request), ident, await common.body(request))
    return common.accepted(request, action, {"action": action})


@router.get("/{ident}/policies")
async def list_bindings(request: Request, ident: str) -> dict[str, Any]:
    common.query(request, set(), frozenset({"policy_name", "policy_type", "enabled"}))
    objects = common.clustering(request).objects
    return {"cluster_policies": await objects.bindings(common.context(request), ident)}


@router.get("/{ident}/policies/{policy}")
async def get_binding(request: Request, ident: str, policy: str) -> dict[str, Any]:
    objects = common.clustering(request).objects
    return {"cluster_policy": await objects.binding(common.context(request), ident, policy)}
