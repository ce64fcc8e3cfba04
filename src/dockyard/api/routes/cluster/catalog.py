"""Version documents, build info, profile and policy types, profiles and policies (the last
two through specobjects.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from dockyard.api.routes.cluster import common
from dockyard.api.routes.cluster.specobjects import SpecObject, add_spec_object_routes
from dockyard.api.routes.cluster.wire import MAX_VERSION, MIN_VERSION
from dockyard.domain.tenancy import RequestContext
from dockyard.services.clusters import ClusterService

router = APIRouter()


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


# --- profiles and policies ----------------------------------------------------------------


async def _validate_policy(svc: ClusterService, ctx: RequestContext, spec: Any) -> dict[str, Any]:
    return svc.validate_policy(spec)  # alone: unlike a profile's, no caller's rights or hosts


PROFILES = SpecObject(
    plural="profiles",
    member="profile",
    ignored=frozenset({"metadata"}),
    validate=ClusterService.validate_profile,
    create=ClusterService.create_profile,
    list_views=ClusterService.list_profiles,
    get=ClusterService.get_profile,
    update=ClusterService.update_profile,
    delete=ClusterService.delete_profile,
)
POLICIES = SpecObject(
    plural="policies",
    member="policy",
    ignored=frozenset(),
    validate=_validate_policy,
    create=ClusterService.create_policy,
    list_views=ClusterService.list_policies,
    get=ClusterService.get_policy,
    update=ClusterService.update_policy,
    delete=ClusterService.delete_policy,
)
add_spec_object_routes(router, PROFILES)
add_spec_object_routes(router, POLICIES)
