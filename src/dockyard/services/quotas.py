"""Quotas: Zun's limits per project and per quota class, and their enforcement.

`reserve` and `release` run inside the caller's transaction (the one that creates, resizes
or deletes the container row), so a container and its charge are committed together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.quotas import QuotaRepository, QuotaUsageRepository
from dockyard.domain.containerspec import ContainerSpec
from dockyard.domain.quotas import DEFAULT_CLASS, RESOURCES, UNLIMITED, Usage, exceeded
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import InvalidValue, OverQuota
from dockyard.services import policy
from dockyard.settings import QuotaSettings, Settings

Limits = dict[str, int]

# Project ids and class names are stored in VARCHAR(255) columns.
_MAX_NAME = 255
# A charge that fails although the counters show room lost a race with a release; the
# next attempt sees the freed room. More misses than this are reported as over quota.
_ATTEMPTS = 3


@dataclass(frozen=True)
class ProjectQuota:
    """A project's effective limits and, when asked for, what it holds now."""

    limits: Limits
    in_use: Usage | None = None


class Specified(Protocol):
    """A container as asked for (a row, or the scheduler's tuple of one)."""

    @property
    def spec(self) -> ContainerSpec: ...


def usage_of(row: Specified) -> Usage:
    """What a container counts against its project's quota.

    Capsule members count like any container (Zun does not count them; here a capsule must
    not be a way round the container quota).
    """
    spec = row.spec
    return Usage.of(containers=1, cpu=spec.cpu, memory=spec.memory, disk=spec.disk)


async def limits_for(session: Session, defaults: QuotaSettings, project_id: str) -> Limits:
    """The project's effective limits: its own, else class `default`'s, else the settings'."""
    repo = QuotaRepository(session)
    class_limits, own = await repo.class_and_project_limits(DEFAULT_CLASS, project_id)
    base = defaults.model_dump()
    return {r: own.get(r, class_limits.get(r, base[r])) for r in RESOURCES}


async def reserve(
    session: Session, defaults: QuotaSettings, project_id: str, change: Usage
) -> None:
    """Charge change to the project's usage in the caller's transaction, or raise OverQuota.

    The charge is one conditional UPDATE of the project's usage row (created on first use),
    so concurrent reservations never overrun a limit; shrinking is never refused.
    """
    if change.is_zero():
        return
    usages = QuotaUsageRepository(session)
    limits = await limits_for(session, defaults, project_id)
    for _ in range(_ATTEMPTS):
        if await usages.charge(project_id, change, limits):
            return
        in_use = await usages.find(project_id)
        if in_use is None:  # the project's first container: start its counters
            await usages.create_if_missing(project_id)
            continue
        over = exceeded(limits, in_use, change)
        if over:
            raise OverQuota(resources=", ".join(over))
    raise OverQuota(resources=", ".join(exceeded(limits, Usage(), change)) or "unknown")


async def release(session: Session, project_id: str, amount: Usage) -> None:
    """Give amount back to the project, in the transaction that deletes what held it."""
    if not amount.is_zero():
        await QuotaUsageRepository(session).release(project_id, amount)


@dataclass
class QuotaService:
    """The /v1/quotas and /v1/quota_classes use cases (Zun's DbQuotaDriver)."""

    sessions: Sessions
    settings: Settings

    async def get(self, ctx: RequestContext, project_id: str, *, usages: bool) -> ProjectQuota:
        """The project's effective limits, and with `usages` what it holds now."""
        _authorize_for_project(ctx, "quota:get", project_id)
        async with self.sessions() as session:
            limits = await limits_for(session, self.settings.quota, project_id)
            if not usages:
                return ProjectQuota(limits)
            in_use = await QuotaUsageRepository(session).find(project_id)
        return ProjectQuota(limits, in_use or Usage())

    async def defaults(self, ctx: RequestContext, project_id: str) -> Limits:
        """What a project without limits of its own gets: class `default`, else settings."""
        _authorize_for_project(ctx, "quota:get_default", project_id)
        return await self._class_limits(DEFAULT_CLASS)

    async def update(self, ctx: RequestContext, project_id: str, limits: Limits) -> Limits:
        """Set some of the project's own limits (admin); the rest keep theirs."""
        policy.authorize(ctx, "quota:update")
        _check(project_id, limits)
        async with transaction(self.sessions) as session:
            await QuotaRepository(session).set_project_limits(project_id, limits)
            return await limits_for(session, self.settings.quota, project_id)

    async def delete(self, ctx: RequestContext, project_id: str) -> None:
        """Drop the project's own limits: it falls back to the defaults (admin)."""
        policy.authorize(ctx, "quota:delete")
        _check(project_id, {})
        async with transaction(self.sessions) as session:
            await QuotaRepository(session).delete_project_limits(project_id)

    async def get_class(self, ctx: RequestContext, class_name: str) -> Limits:
        """The class's limits; resources it does not set show the configured defaults."""
        policy.authorize(ctx, "quota_class:get")
        return await self._class_limits(class_name)

    async def update_class(self, ctx: RequestContext, class_name: str, limits: Limits) -> Limits:
        """Set some of the class's limits (admin); class `default` changes every project
        that has no limit of its own for that resource."""
        policy.authorize(ctx, "quota_class:update")
        _check(class_name, limits)
        async with transaction(self.sessions) as session:
            await QuotaRepository(session).set_class_limits(class_name, limits)
        return await self._class_limits(class_name)

    async def _class_limits(self, class_name: str) -> Limits:
        async with self.sessions() as session:
            own = await QuotaRepository(session).class_limits(class_name)
        fallback = self.settings.quota.model_dump()
        return {r: own.get(r, fallback[r]) for r in RESOURCES}


def _authorize_for_project(ctx: RequestContext, rule: str, project_id: str) -> None:
    # Zun checks these against the project in the URL; there is no row for TenantScope to
    # hide, so another project's quota is a 403 (as in Zun), not a 404.
    policy.authorize(ctx, rule, {"project_id": project_id})


def _check(name: str, limits: Mapping[str, int]) -> None:
    if not 0 < len(name) <= _MAX_NAME:
        raise InvalidValue(f"Invalid name {name!r}: must be 1 to {_MAX_NAME} characters.")
    for resource, limit in limits.items():
        if resource not in RESOURCES:
            raise InvalidValue(f"Unknown quota resource {resource!r}.")
        if limit < UNLIMITED:
            raise InvalidValue(f"Invalid {resource} quota {limit}: must be -1 or more.")
