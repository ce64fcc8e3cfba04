"""Who is asking, and which projects' objects a query may see."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Authorizer(Protocol):
    """The policy in force (services/policy.Policy): whether a rule lets a caller act."""

    def is_allowed(
        self, ctx: RequestContext, rule: str, target: Mapping[str, str] | None = None
    ) -> bool: ...


@dataclass(frozen=True)
class RequestContext:
    project_id: str
    user_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    request_id: str = ""
    # Set by the API layer once the caller is known (authenticators leave it None); a check
    # against a context without one is a bug, never a silent fall-back to the defaults.
    policy: Authorizer | None = field(default=None, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True)
class TenantScope:
    """The projects a query may touch: one project, or every project (admin only).

    Repositories take a scope on every call so that tenancy is applied in one place.
    """

    project_id: str | None

    @classmethod
    def all_projects(cls) -> TenantScope:
        return cls(project_id=None)

    @classmethod
    def of(cls, context: RequestContext, all_projects: bool = False) -> TenantScope:
        if all_projects and context.is_admin:
            return cls.all_projects()
        return cls(project_id=context.project_id)

    @property
    def is_unrestricted(self) -> bool:
        return self.project_id is None
