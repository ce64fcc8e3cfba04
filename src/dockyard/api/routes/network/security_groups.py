"""/v2.0/security-groups and /v2.0/security-group-rules (Neutron's security-group extension)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api.routes.network import wire
from dockyard.schemas.networks import (
    SecurityGroupCreate,
    SecurityGroupRuleCreate,
    SecurityGroupUpdate,
)
from dockyard.services.netviews import rule_view, security_group_view
from dockyard.services.security_groups import FILTERS

router = APIRouter(prefix="/v2.0")


@router.get("/security-groups")
async def list_security_groups(request: Request) -> dict[str, Any]:
    filters = wire.filters_of(request, FILTERS["security-groups"])
    found = await wire.services(request).security_groups.list_groups(wire.context(request), filters)
    views = [wire.shaped(request, security_group_view(g, rules)) for g, rules in found]
    return {"security_groups": views}


@router.post("/security-groups")
async def create_security_group(request: Request) -> JSONResponse:
    body = await wire.body_of(request, "security_group", SecurityGroupCreate)
    group, rules = await wire.services(request).security_groups.create(wire.context(request), body)
    return JSONResponse({"security_group": security_group_view(group, rules)}, status_code=201)


@router.get("/security-groups/{ident}")
async def show_security_group(request: Request, ident: str) -> dict[str, Any]:
    group, rules = await wire.services(request).security_groups.get(wire.context(request), ident)
    return {"security_group": wire.shaped(request, security_group_view(group, rules))}


@router.put("/security-groups/{ident}")
async def update_security_group(request: Request, ident: str) -> dict[str, Any]:
    patch = await wire.body_of(request, "security_group", SecurityGroupUpdate)
    svc = wire.services(request).security_groups
    group, rules = await svc.update(wire.context(request), ident, patch)
    return {"security_group": security_group_view(group, rules)}


@router.delete("/security-groups/{ident}", status_code=204)
async def delete_security_group(request: Request, ident: str) -> Response:
    await wire.services(request).security_groups.delete(wire.context(request), ident)
    return Response(status_code=204)


@router.get("/security-group-rules")
async def list_security_group_rules(request: Request) -> dict[str, Any]:
    filters = wire.filters_of(request, FILTERS["security-group-rules"])
    rows = await wire.services(request).security_groups.list_rules(wire.context(request), filters)
    return {"security_group_rules": [wire.shaped(request, rule_view(r)) for r in rows]}


@router.post("/security-group-rules")
async def create_security_group_rule(request: Request) -> JSONResponse:
    body = await wire.body_of(request, "security_group_rule", SecurityGroupRuleCreate)
    row = await wire.services(request).security_groups.create_rule(wire.context(request), body)
    return JSONResponse({"security_group_rule": rule_view(row)}, status_code=201)


@router.get("/security-group-rules/{ident}")
async def show_security_group_rule(request: Request, ident: str) -> dict[str, Any]:
    row = await wire.services(request).security_groups.get_rule(wire.context(request), ident)
    return {"security_group_rule": wire.shaped(request, rule_view(row))}


@router.delete("/security-group-rules/{ident}", status_code=204)
async def delete_security_group_rule(request: Request, ident: str) -> Response:
    await wire.services(request).security_groups.delete_rule(wire.context(request), ident)
    return Response(status_code=204)
