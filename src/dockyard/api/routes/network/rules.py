"""The policy rule of every networking route, by Neutron's rule names, checked before its
handler; tests/auth/test_network_routes.py checks that none is missing."""

from __future__ import annotations

from fastapi import Request

from dockyard.api.routes.network import wire
from dockyard.services import policy


def _crud(collection: str, one: str, writable: bool = True) -> dict[tuple[str, str], str]:
    item = f"/v2.0/{collection}/{{ident}}"
    table = {("GET", f"/v2.0/{collection}"): f"get_{one}", ("GET", item): f"get_{one}"}
    if writable:
        table[("POST", f"/v2.0/{collection}")] = f"create_{one}"
        table[("PUT", item)] = f"update_{one}"
        table[("DELETE", item)] = f"delete_{one}"
    return table


ROUTE_RULES: dict[tuple[str, str], str] = {
    ("GET", "/v2.0/extensions"): "get_extension",
    ("GET", "/v2.0/extensions/{alias}"): "get_extension",
    **_crud("networks", "network"),
    **_crud("subnets", "subnet"),
    **_crud("subnetpools", "subnetpool"),
    **_crud("ports", "port", writable=False),
    **_crud("security-groups", "security_group"),
    ("GET", "/v2.0/security-group-rules"): "get_security_group_rule",
    ("GET", "/v2.0/security-group-rules/{ident}"): "get_security_group_rule",
    ("POST", "/v2.0/security-group-rules"): "create_security_group_rule",
    ("DELETE", "/v2.0/security-group-rules/{ident}"): "delete_security_group_rule",
}
# Public: the version documents (wire.is_public lets them through without a token).
PUBLIC_ROUTES = {("GET", "/"), ("GET", "/v2.0"), ("GET", "/v2.0/")}


async def enforce(request: Request) -> None:
    """403 (in Neutron's format) unless the route's rule allows the caller."""
    path = getattr(request.scope.get("route"), "path", None)
    rule = ROUTE_RULES.get((request.method, path)) if isinstance(path, str) else None
    if rule is not None:
        policy.authorize(wire.context(request), f"neutron:{rule}")
