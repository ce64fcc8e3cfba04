"""GET / and GET /v1: Zun's version documents (public, no token needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from dockyard.api import deps

router = APIRouter()

RESOURCES = (
    "services", "containers", "images", "networks", "hosts", "capsules",
    "availability_zones", "quotas", "quota_classes", "registries",
)  # fmt: skip


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v1",
        "links": [{"href": f"{base}/v1/", "rel": "self"}],
        "status": "CURRENT",
        "max_version": "1.40",
        "min_version": "1.1",
    }


@router.get("/")
async def root(request: Request) -> JSONResponse:
    base = deps.base_url(request)
    version = _version(base)
    return JSONResponse(
        {
            "name": "OpenStack Zun API",
            "description": "Zun is an OpenStack project which aims to provide containers service.",
            "versions": [version],
            "default_version": version,
        }
    )


@router.get("/v1")
@router.get("/v1/")
async def v1(request: Request) -> JSONResponse:
    base = deps.base_url(request)
    doc: dict[str, Any] = {
        "id": "v1",
        "media_types": [
            {"base": "application/json", "type": "application/vnd.openstack.zun.v1+json"}
        ],
        "links": [
            {"href": f"{base}/v1/", "rel": "self"},
            {
                "rel": "describedby",
                "type": "text/html",
                "href": "https://docs.openstack.org/developer/zun/dev/api-spec-v1.html",
            },
        ],
    }
    for name in RESOURCES:
        doc[name] = [
            {"href": f"{base}/v1/{name}/", "rel": "self"},
            {"href": f"{base}/{name}/", "rel": "bookmark"},
        ]
    return JSONResponse(doc)
