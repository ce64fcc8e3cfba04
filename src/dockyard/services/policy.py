"""Zun's default policy rules; the one place that decides who may do what."""

from __future__ import annotations

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import PolicyNotAuthorized

ADMIN = "admin"
DENY = "deny"

# Rules that are not plain admin-or-owner (zun/common/policies). Everything else is
# admin_or_owner, which TenantScope already enforces by turning other projects into 404s.
RULES: dict[str, str] = {
    "container:create:privileged": DENY,
    "container:create:runtime": ADMIN,
    "container:create:image_pull_policy": ADMIN,
    "container:create:requested_destination": ADMIN,
    "container:delete_force": ADMIN,
    "container:get_one_all_projects": ADMIN,
    "container:get_one:host": ADMIN,
    "container:get_one:image_pull_policy": ADMIN,
    "container:get_one:privileged": ADMIN,
    "container:get_one:runtime": ADMIN,
    "host:get_all": ADMIN,
    "host:get": ADMIN,
}


def is_allowed(context: RequestContext, rule: str) -> bool:
    kind = RULES.get(rule)
    if kind == DENY:
        return False
    if kind == ADMIN:
        return context.is_admin
    return True


def authorize(context: RequestContext, rule: str) -> None:
    """Raise PolicyNotAuthorized (403) unless the rule allows the request."""
    if not is_allowed(context, rule):
        raise PolicyNotAuthorized(action=rule)
