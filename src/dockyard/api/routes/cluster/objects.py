"""Nodes, receivers and their webhooks, actions and events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dockyard.api.routes.cluster import common
from dockyard.errors import InvalidValue
from dockyard.schemas.clusters import as_bool

router = APIRouter(prefix="/v1")


@router.post("/nodes")
async def create_node(request: Request) -> Response:
    objects = common.clustering(request).objects
    view, action = await objects.create_node(common.context(request), await common.body(request))
    return common.accepted(request, action, {"node": view})


@router.post("/nodes/adopt")
async def adopt_node(request: Request) -> dict[str, Any]:
    adoption = common.clustering(request).adoption
    return {"node": await adoption.adopt(common.context(request), await common.body(request))}


@router.post("/nodes/adopt-preview")
async def adopt_preview(request: Request) -> dict[str, Any]:
    adoption = common.clustering(request).adoption
    body = await common.body(request)
    return {"node_profile": await adoption.preview(common.context(request), body)}


@router.get("/nodes")
async def list_nodes(request: Request) -> dict[str, Any]:
    query = common.query(request, {"cluster_id", "name", "status"}, frozenset({"show_details"}))
    objects = common.clustering(request).objects
    return {"nodes": await objects.list_nodes(common.context(request), query)}


@router.get("/nodes/{ident}")
async def get_node(request: Request, ident: str) -> dict[str, Any]:
    details = as_bool(request.query_params.get("show_details", False), "show_details")
    objects = common.clustering(request).objects
    return {"node": await objects.get_node(common.context(request), ident, details)}


@router.patch("/nodes/{ident}")
async def update_node(request: Request, ident: str) -> Response:
    objects = common.clustering(request).objects
    ctx = common.context(request)
    action = await objects.update_node(ctx, ident, await common.body(request))
    return common.accepted(request, action, {"node": await objects.get_node(ctx, ident)})


@router.delete("/nodes/{ident}")
async def delete_node(request: Request, ident: str) -> Response:
    objects = common.clustering(request).objects
    return common.accepted(request, await objects.delete_node(common.context(request), ident))


@router.post("/nodes/{ident}/actions")
async def node_action(request: Request, ident: str) -> Response:
    objects = common.clustering(request).objects
    body = await common.body(request)
    action = await objects.node_action(common.context(request), ident, body)
    return common.accepted(request, action, {"action": action})


# --- receivers and webhooks ------------------------------------------------------------------


@router.post("/receivers")
async def create_receiver(request: Request) -> Response:
    objects = common.clustering(request).objects
    body = await common.body(request)
    view = await objects.create_receiver(common.context(request), body, common.base_url(request))
    return JSONResponse({"receiver": view}, status_code=201)


@router.get("/receivers")
async def list_receivers(request: Request) -> dict[str, Any]:
    query = common.query(request, {"name", "type", "cluster_id", "action"})
    objects = common.clustering(request).objects
    base = common.base_url(request)
    return {"receivers": await objects.list_receivers(common.context(request), query, base)}


@router.get("/receivers/{ident}")
async def get_receiver(request: Request, ident: str) -> dict[str, Any]:
    objects = common.clustering(request).objects
    base = common.base_url(request)
    return {"receiver": await objects.get_receiver(common.context(request), ident, base)}


@router.patch("/receivers/{ident}")
async def update_receiver(request: Request, ident: str) -> dict[str, Any]:
    objects = common.clustering(request).objects
    body, base = await common.body(request), common.base_url(request)
    return {"receiver": await objects.update_receiver(common.context(request), ident, body, base)}


@router.delete("/receivers/{ident}", status_code=204)
async def delete_receiver(request: Request, ident: str) -> Response:
    await common.clustering(request).objects.delete_receiver(common.context(request), ident)
    return Response(status_code=204)


@router.post("/webhooks/{secret}/trigger")
async def trigger_webhook(request: Request, secret: str) -> Response:
    """No token: the secret in the URL is the credential. V is mandatory, as in Senlin."""
    if "V" not in request.query_params:
        raise InvalidValue("V query parameter is required in webhook trigger.")
    params: dict[str, Any] = dict(request.query_params)
    body = await common.optional_body(request)
    params.update(body.get("params") or {})
    action = await common.clustering(request).objects.trigger(secret, params)
    return common.accepted(request, action, {"action": action})


# --- actions and events ----------------------------------------------------------------------


@router.get("/actions")
async def list_actions(request: Request) -> dict[str, Any]:
    query = common.query(request, {"name", "action", "status", "target", "cluster_id"})
    objects = common.clustering(request).objects
    return {"actions": await objects.list_actions(common.context(request), query)}


@router.get("/actions/{ident}")
async def get_action(request: Request, ident: str) -> dict[str, Any]:
    objects = common.clustering(request).objects
    return {"action": await objects.get_action(common.context(request), ident)}


@router.patch("/actions/{ident}")
async def cancel_action(request: Request, ident: str) -> Response:
    objects = common.clustering(request).objects
    await objects.cancel_action(common.context(request), ident, await common.body(request))
    return Response(status_code=202)


@router.get("/events")
async def list_events(request: Request) -> dict[str, Any]:
    filters = {"oid", "oname", "otype", "action", "cluster_id", "level"}
    objects = common.clustering(request).objects
    events = await objects.list_events(common.context(request), common.query(request, filters))
    return {"events": events}


@router.get("/events/{ident}")
async def get_event(request: Request, ident: str) -> dict[str, Any]:
    objects = common.clustering(request).objects
    return {"event": await objects.get_event(common.context(request), ident)}
