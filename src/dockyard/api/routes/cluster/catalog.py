"""Version documents, build info, profile and policy types, profiles and policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dockyard.api.routes.cluster import common
from dockyard.api.routes.cluster.wire import MAX_VERSION, MIN_VERSION

router = APIRouter()
NAME_TYPE = {"name", "type"}


def _version(request: Request) -> dict[str, Any]:
    return {
        "id": "1.0",
        "status": "CURRENT",
        "updated": "2016-01-18T00:00:00Z",
        "links": [{"rel": "self", "href": f"{common.base_url(request)}/v1/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.clustering-v1+json"}
        ],
        "min_version": f"{MIN_VERSION[0]}.{MIN_VERSION[1]}",
        "max_version": f"{MAX_VERSION[0]}.{MAX_VERSION[1]}",
    }


@router.get("/")
async def versions(request: Request) -> Response:
    return JSONResponse({"versions": [_version(request)]}, status_code=300)


@router.get("/v1")
@router.get("/v1/")
async def version(request: Request) -> dict[str, Any]:
    return {"version": _version(request)}


@router.get("/v1/build-info")
async def build_info() -> dict[str, Any]:
    return {"build_info": {"api": {"revision": "dockyard"}, "engine": {"revision": "dockyard"}}}


@router.get("/v1/profile-types")
async def profile_types(request: Request) -> dict[str, Any]:
    return {"profile_types": common.clustering(request).clusters.profile_types()}


@router.get("/v1/profile-types/{name}")
async def profile_type(request: Request, name: str) -> dict[str, Any]:
    return {"profile_type": common.clustering(request).clusters.profile_type(name)}


@router.get("/v1/policy-types")
async def policy_types(request: Request) -> dict[str, Any]:
    return {"policy_types": common.clustering(request).clusters.policy_types()}


@router.get("/v1/policy-types/{name}")
async def policy_type(request: Request, name: str) -> dict[str, Any]:
    return {"policy_type": common.clustering(request).clusters.policy_type(name)}


# --- profiles ------------------------------------------------------------------------------


@router.post("/v1/profiles/validate")
async def validate_profile(request: Request) -> dict[str, Any]:
    data = (await common.body(request)).get("profile") or {}
    svc = common.clustering(request).clusters
    spec = await svc.validate_profile(common.context(request), data.get("spec"))
    return {"profile": {"spec": spec, "type": f"{spec['type']}-{spec['version']}"}}


@router.post("/v1/profiles")
async def create_profile(request: Request) -> Response:
    svc = common.clustering(request).clusters
    view = await svc.create_profile(common.context(request), await common.body(request))
    return JSONResponse({"profile": view}, status_code=201)


@router.get("/v1/profiles")
async def list_profiles(request: Request) -> dict[str, Any]:
    query = common.query(request, NAME_TYPE, frozenset({"metadata"}))
    svc = common.clustering(request).clusters
    return {"profiles": await svc.list_profiles(common.context(request), query)}


@router.get("/v1/profiles/{ident}")
async def get_profile(request: Request, ident: str) -> dict[str, Any]:
    svc = common.clustering(request).clusters
    return {"profile": await svc.get_profile(common.context(request), ident)}


@router.patch("/v1/profiles/{ident}")
async def update_profile(request: Request, ident: str) -> dict[str, Any]:
    svc = common.clustering(request).clusters
    body = await common.body(request)
    return {"profile": await svc.update_profile(common.context(request), ident, body)}


@router.delete("/v1/profiles/{ident}", status_code=204)
async def delete_profile(request: Request, ident: str) -> Response:
    await common.clustering(request).clusters.delete_profile(common.context(request), ident)
    return Response(status_code=204)


# --- policies ------------------------------------------------------------------------------


@router.post("/v1/policies/validate")
async def validate_policy(request: Request) -> dict[str, Any]:
    data = (await common.body(request)).get("policy") or {}
    spec = common.clustering(request).clusters.validate_policy(data.get("spec"))
    return {"policy": {"spec": spec, "type": f"{spec['type']}-{spec['version']}"}}


@router.post("/v1/policies")
async def create_policy(request: Request) -> Response:
    svc = common.clustering(request).clusters
    view = await svc.create_policy(common.context(request), await common.body(request))
    return JSONResponse({"policy": view}, status_code=201)


@router.get("/v1/policies")
async def list_policies(request: Request) -> dict[str, Any]:
    svc = common.clustering(request).clusters
    query = common.query(request, NAME_TYPE)
    return {"policies": await svc.list_policies(common.context(request), query)}


@router.get("/v1/policies/{ident}")
async def get_policy(request: Request, ident: str) -> dict[str, Any]:
    svc = common.clustering(request).clusters
    return {"policy": await svc.get_policy(common.context(request), ident)}


@router.patch("/v1/policies/{ident}")
async def update_policy(request: Request, ident: str) -> dict[str, Any]:
    svc = common.clustering(request).clusters
    body = await common.body(request)
    return {"policy": await svc.update_policy(common.context(request), ident, body)}


@router.delete("/v1/policies/{ident}", status_code=204)
async def delete_policy(request: Request, ident: str) -> Response:
    await common.clustering(request).clusters.delete_policy(common.context(request), ident)
    return Response(status_code=204)
