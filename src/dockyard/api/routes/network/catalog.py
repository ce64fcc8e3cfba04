"""The version documents and the extensions list (clients probe them before they act)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dockyard.api.routes.network import wire
from dockyard.errors import ResourceNotFound

router = APIRouter()

# (alias, name, description): what this subset really does; clients skip what is absent.
EXTENSIONS = (
    ("security-group", "security-group", "Security groups and their rules."),
    ("subnet_allocation", "Subnet Allocation", "Subnets allocated from subnet pools."),
    ("external-net", "Neutron external network", "The router:external attribute."),
    ("net-mtu", "Network MTU", "The mtu attribute of networks (1450: VXLAN)."),
    ("project-id", "project_id field enabled", "project_id beside tenant_id."),
    ("standard-attr-description", "standard-attr-description", "description attributes."),
    ("standard-attr-timestamp", "Resource timestamps", "created_at and updated_at."),
    ("standard-attr-revisions", "Resource revision numbers", "revision_number attributes."),
    ("filter-validation", "Filter parameters validation", "Unknown list filters are a 400."),
)


def _extension(alias: str, name: str, description: str) -> dict[str, Any]:
    return {"alias": alias, "name": name, "description": description,
            "updated": "2026-12-02T00:00:00-00:00", "links": []}  # fmt: skip


def _version(request: Request) -> dict[str, Any]:
    href = f"{wire.base_url(request)}/v2.0/"
    return {"id": "v2.0", "status": "CURRENT", "links": [{"href": href, "rel": "self"}]}


@router.get("/")
async def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request)]}


@router.get("/v2.0")
@router.get("/v2.0/")
async def version(request: Request) -> dict[str, Any]:
    href = f"{wire.base_url(request)}/v2.0"
    resources = ("network", "subnet", "subnetpool", "port", "security_group",
                 "security_group_rule")  # fmt: skip
    links = [{"name": r, "collection": f"{r}s".replace("_", "-") if "security" in r else f"{r}s",
              "links": [{"href": f"{href}/{r}s", "rel": "self"}]} for r in resources]  # fmt: skip
    return {"resources": links}


@router.get("/v2.0/extensions")
async def extensions() -> dict[str, Any]:
    return {"extensions": [_extension(*e) for e in EXTENSIONS]}


@router.get("/v2.0/extensions/{alias}")
async def extension(alias: str) -> dict[str, Any]:
    for entry in EXTENSIONS:
        if entry[0] == alias:
            return {"extension": _extension(*entry)}
    raise ResourceNotFound(name="extension", ident=alias)
