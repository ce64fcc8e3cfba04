"""The policy rule of every clustering route, checked before its handler (as routepolicy does
for Zun's routes); tests/auth/test_cluster_routes.py checks that none is missing."""

from __future__ import annotations

from fastapi import Request

from dockyard.api.routes.cluster import common
from dockyard.services import policy


def _crud(collection: str, rule: str, extra: tuple[str, ...] = ()) -> dict[tuple[str, str], str]:
    one = f"/v1/{collection}/{{ident}}"
    table = {
        ("GET", f"/v1/{collection}"): f"{rule}:index",
        ("POST", f"/v1/{collection}"): f"{rule}:create",
        ("GET", one): f"{rule}:get",
        ("PATCH", one): f"{rule}:update",
        ("DELETE", one): f"{rule}:delete",
    }
    for verb in extra:
        table[("POST", f"/v1/{collection}/{verb}")] = f"{rule}:{verb}"
    return table


ROUTE_RULES: dict[tuple[str, str], str] = {
    ("GET", "/v1/build-info"): "build_info:build_info",
    ("GET", "/v1/profile-types"): "profile_types:index",
    ("GET", "/v1/profile-types/{name}"): "profile_types:get",
    ("GET", "/v1/policy-types"): "policy_types:index",
    ("GET", "/v1/policy-types/{name}"): "policy_types:get",
    **_crud("profiles", "profiles", ("validate",)),
    **_crud("policies", "policies", ("validate",)),
    **_crud("clusters", "clusters"),
    ("POST", "/v1/clusters/{ident}/actions"): "clusters:action",
    ("GET", "/v1/clusters/{ident}/policies"): "cluster_policies:index",
    ("GET", "/v1/clusters/{ident}/policies/{policy}"): "cluster_policies:get",
    **_crud("nodes", "nodes"),
    ("POST", "/v1/nodes/{ident}/actions"): "nodes:action",
    ("POST", "/v1/nodes/adopt"): "nodes:adopt",
    ("POST", "/v1/nodes/adopt-preview"): "nodes:adopt_preview",
    **_crud("receivers", "receivers"),
    ("GET", "/v1/actions"): "actions:index",
    ("GET", "/v1/actions/{ident}"): "actions:get",
    ("PATCH", "/v1/actions/{ident}"): "actions:update",
    ("GET", "/v1/events"): "events:index",
    ("GET", "/v1/events/{ident}"): "events:get",
}
# Public: the version documents; the webhook's secret URL is its own credential.
PUBLIC_ROUTES = {("GET", "/"), ("GET", "/v1"), ("GET", "/v1/"),
                 ("POST", "/v1/webhooks/{secret}/trigger")}  # fmt: skip


async def enforce(request: Request) -> None:
    """403 (in Senlin's format) unless the route's rule allows the caller."""
    path = getattr(request.scope.get("route"), "path", None)
    rule = ROUTE_RULES.get((request.method, path)) if isinstance(path, str) else None
    if rule is not None:
        policy.authorize(common.context(request), rule)
