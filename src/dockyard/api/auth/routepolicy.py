"""The policy rule of every API route, checked in one place before the route's handler runs.

Routes and services check finer rules themselves (force delete, admin-only create fields and
response fields); this table gives every route its Zun rule, so that an operator's policy
file can allow or deny each operation. tests/auth checks that no route is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from dockyard.api import deps
from dockyard.api.compat import parse_bool
from dockyard.services import policy


@dataclass(frozen=True)
class RouteRule:
    rule: str
    all_projects: str | None = None  # checked too when the request says all_projects=true


_C = "/v1/containers/{ident}"
ROUTE_RULES: dict[tuple[str, str], RouteRule] = {
    ("POST", "/v1/containers"): RouteRule("container:create"),
    ("GET", "/v1/containers"): RouteRule("container:get_all", "container:get_all_all_projects"),
    ("GET", _C): RouteRule("container:get_one", "container:get_one_all_projects"),
    ("PATCH", _C): RouteRule("container:update"),
    ("DELETE", _C): RouteRule("container:delete", "container:delete_all_projects"),
    **{
        ("POST", f"{_C}/{action}"): RouteRule(f"container:{action}")
        for action in ("start", "stop", "reboot", "pause", "unpause", "kill", "rename", "execute")
    },
    ("POST", f"{_C}/execute_resize"): RouteRule("container:execute_resize"),
    ("GET", f"{_C}/attach"): RouteRule("container:attach"),
    ("POST", f"{_C}/resize"): RouteRule("container:resize"),
    **{
        ("GET", f"{_C}/{query}"): RouteRule(f"container:{query}")
        for query in ("logs", "top", "stats")
    },
    ("GET", f"{_C}/get_archive"): RouteRule("container:get_archive"),
    ("POST", f"{_C}/put_archive"): RouteRule("container:put_archive"),
    ("POST", f"{_C}/commit"): RouteRule("container:commit"),
    ("POST", f"{_C}/resize_container"): RouteRule("container:resize_container"),
    ("POST", f"{_C}/rebuild"): RouteRule("container:rebuild"),
    ("GET", f"{_C}/container_actions"): RouteRule("container:actions"),
    ("GET", f"{_C}/container_actions/{{request_id}}"): RouteRule("container:actions"),
    ("POST", "/v1/capsules"): RouteRule("capsule:create"),
    ("GET", "/v1/capsules"): RouteRule("capsule:get_all", "capsule:get_all_all_projects"),
    ("GET", "/v1/capsules/{ident}"): RouteRule("capsule:get", "capsule:get_one_all_projects"),
    ("DELETE", "/v1/capsules/{ident}"): RouteRule("capsule:delete", "capsule:delete_all_projects"),
    ("GET", "/v1/sandboxes"): RouteRule("sandbox:get_all", "sandbox:get_all_all_projects"),
    ("GET", "/v1/sandboxes/{ident}"): RouteRule("sandbox:get_one"),
    ("POST", "/v1/images"): RouteRule("image:pull"),
    ("GET", "/v1/images"): RouteRule("image:get_all"),
    ("GET", "/v1/images/{ident}"): RouteRule("image:get_one"),
    ("DELETE", "/v1/images/{ident}"): RouteRule("image:delete"),
    ("GET", "/v1/images/{image:path}/search"): RouteRule("image:search"),
    ("POST", "/v1/registries"): RouteRule("registry:create"),
    ("GET", "/v1/registries"): RouteRule("registry:get_all", "registry:get_all_all_projects"),
    ("GET", "/v1/registries/{ident}"): RouteRule("registry:get_one"),
    ("PATCH", "/v1/registries/{ident}"): RouteRule("registry:update"),
    ("DELETE", "/v1/registries/{ident}"): RouteRule("registry:delete"),
    **{
        ("POST", f"{_C}/{action}"): RouteRule(f"container:{action}")
        for action in (
            "network_attach",
            "network_detach",
            "add_security_group",
            "remove_security_group",
        )
    },
    ("GET", f"{_C}/network_list"): RouteRule("container:network_list"),
    ("POST", "/v1/networks"): RouteRule("network:create"),
    ("GET", "/v1/networks"): RouteRule("network:get_all"),
    ("GET", "/v1/networks/{ident}"): RouteRule("network:get_one"),
    ("DELETE", "/v1/networks/{ident}"): RouteRule("network:delete"),
    ("POST", "/v1/volumes"): RouteRule("volume:create"),
    ("GET", "/v1/volumes"): RouteRule("volume:get_all", "volume:get_all_all_projects"),
    ("GET", "/v1/volumes/{ident}"): RouteRule("volume:get_one"),
    ("DELETE", "/v1/volumes/{ident}"): RouteRule("volume:delete"),
    ("GET", "/v1/hosts"): RouteRule("host:get_all"),
    ("GET", "/v1/hosts/{ident}"): RouteRule("host:get"),
    ("GET", "/v1/services"): RouteRule("zun-service:get_all"),
    ("DELETE", "/v1/services"): RouteRule("zun-service:delete"),
    ("PUT", "/v1/services/enable"): RouteRule("zun-service:enable"),
    ("PUT", "/v1/services/disable"): RouteRule("zun-service:disable"),
    ("PUT", "/v1/services/force_down"): RouteRule("zun-service:force_down"),
    ("GET", "/v1/availability_zones"): RouteRule("availability_zones:get_all"),
    ("GET", "/v1/quotas/{project_id}"): RouteRule("quota:get"),
    ("GET", "/v1/quotas/{project_id}/defaults"): RouteRule("quota:get_default"),
    ("PUT", "/v1/quotas/{project_id}"): RouteRule("quota:update"),
    ("DELETE", "/v1/quotas/{project_id}"): RouteRule("quota:delete"),
    ("GET", "/v1/quota_classes/{class_name}"): RouteRule("quota_class:get"),
    ("PUT", "/v1/quota_classes/{class_name}"): RouteRule("quota_class:update"),
}


def rule_of(request: Request) -> RouteRule | None:
    """The rule of the route the request matched (None for public and agent routes)."""
    path = getattr(request.scope.get("route"), "path", None)
    return ROUTE_RULES.get((request.method, path)) if isinstance(path, str) else None


async def enforce(request: Request) -> None:
    """App-wide dependency: 403 unless the route's rule (and all_projects rule) allows."""
    route_rule = rule_of(request)
    if route_rule is None:
        return
    ctx = deps.context(request)
    # Zun's target: the project a path names (quotas), else the caller's own project.
    project_id = request.path_params.get("project_id", ctx.project_id)
    policy.authorize(ctx, route_rule.rule, {"project_id": project_id, "user_id": ctx.user_id})
    all_projects = request.query_params.get("all_projects", False)
    if route_rule.all_projects and parse_bool(all_projects, "all_projects"):
        policy.authorize(ctx, route_rule.all_projects)
