"""A project's private registries (Zun's /v1/registries): the password stored encrypted,
answered as `***`, and given in clear only to the agent that pulls with it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from dockyard.client.registrysearch import Source
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.registries_tables import RegistryRow
from dockyard.db.repositories.registries import RegistryRepository
from dockyard.db.tables import ContainerRow, new_uuid
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.schemas.registries import RegistryCreate, RegistryUpdate
from dockyard.services.secrets import SecretBox

MASK = "***"


def scope_of(ctx: RequestContext, all_projects: bool = False) -> TenantScope:
    # As for containers: an administrator reaches any project's registry by uuid or name.
    return TenantScope.all_projects() if ctx.is_admin else TenantScope.of(ctx, all_projects)


async def credentials_of(
    session: Session, secrets: SecretBox, registry_uuid: str
) -> dict[str, str] | None:
    """{server, username, password} of a registry for a pull, or None if it has none."""
    row = await RegistryRepository(session, TenantScope.all_projects()).find(registry_uuid)
    if row is None or not row.username:
        return None
    password = secrets.decrypt(row.password_encrypted) if row.password_encrypted else ""
    return {"server": row.domain, "username": row.username, "password": password}


def registry_domain(repository: str) -> str | None:
    """The registry host[:port] an image name starts with, as the engines read it."""
    first, sep, _ = repository.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


async def match_domains(session: Session, project_id: str, rows: Sequence[ContainerRow]) -> None:
    """Give each container whose image's domain is one of the project's registries that
    registry (capsule templates, as Zun's, have no `registry`: the domain names it)."""
    registries = RegistryRepository(session, TenantScope(project_id))
    for row in rows:
        domain = registry_domain(row.spec.image)
        if domain is None or row.spec.registry_id is not None:
            continue
        found = await registries.find_for_domain(domain)
        if found is not None:
            row.spec = replace(row.spec, registry_id=found.uuid)


class RegistryService:
    def __init__(self, sessions: Sessions, secrets: SecretBox) -> None:
        self.sessions = sessions
        self.secrets = secrets

    async def create(self, ctx: RequestContext, body: RegistryCreate) -> RegistryRow:
        row = RegistryRow(
            uuid=new_uuid(), project_id=ctx.project_id, user_id=ctx.user_id,
            name=body.name or body.domain, domain=body.domain, username=body.username,
            password_encrypted=self._sealed(body.password),
        )  # fmt: skip
        async with transaction(self.sessions) as session:
            RegistryRepository(session, TenantScope(ctx.project_id)).add(row)
        return row

    def _sealed(self, password: Any) -> str | None:
        return None if password is None else self.secrets.encrypt(password.get_secret_value())

    async def get(self, ctx: RequestContext, ident: str) -> RegistryRow:
        async with self.sessions() as session:
            return await RegistryRepository(session, scope_of(ctx)).get(ident)

    async def list(
        self, ctx: RequestContext, filters: dict[str, str], *, limit: int, marker: str | None,
        sort_key: str, sort_dir: str, all_projects: bool,
    ) -> Sequence[RegistryRow]:  # fmt: skip
        async with self.sessions() as session:
            repo = RegistryRepository(session, TenantScope.of(ctx, all_projects))
            return await repo.list(
                filters, limit=limit, marker=marker, sort_key=sort_key, sort_dir=sort_dir
            )

    async def update(self, ctx: RequestContext, ident: str, patch: RegistryUpdate) -> RegistryRow:
        async with transaction(self.sessions) as session:
            row = await RegistryRepository(session, scope_of(ctx)).get(ident, for_update=True)
            for name in ("domain", "name", "username"):
                value = getattr(patch, name)
                if value is not None:
                    setattr(row, name, value)
            if patch.password is not None:
                row.password_encrypted = self._sealed(patch.password)
        return row

    async def delete(self, ctx: RequestContext, ident: str) -> None:
        async with transaction(self.sessions) as session:
            repo = RegistryRepository(session, scope_of(ctx))
            await repo.delete(await repo.get(ident, for_update=True))

    async def resolve(self, ctx: RequestContext, ident: str) -> str:
        """The uuid of the caller's registry ident (uuid or name); 404 for another project's."""
        async with self.sessions() as session:
            return (await RegistryRepository(session, TenantScope(ctx.project_id)).get(ident)).uuid

    async def credentials_for_domain(
        self, ctx: RequestContext, domain: str
    ) -> dict[str, str] | None:
        """Credentials of the caller's registry for domain, if the project has one."""
        async with self.sessions() as session:
            found = await RegistryRepository(session, TenantScope(ctx.project_id)).find_for_domain(
                domain
            )
            return await credentials_of(session, self.secrets, found.uuid) if found else None


async def search_sources(
    service: RegistryService, ctx: RequestContext, domain: str | None
) -> list[Source]:
    """The registries a search by ctx asks: the one of domain (with the project's login for
    it, if it has one), or else every registry the project has a record of."""
    if domain is not None:
        return [await _source(service, ctx, domain)]
    async with service.sessions() as session:
        rows = await RegistryRepository(session, TenantScope(ctx.project_id)).list(
            {}, limit=1000, marker=None, sort_key="created_at", sort_dir="desc"
        )
    domains = list(dict.fromkeys(row.domain for row in rows))
    return [await _source(service, ctx, d) for d in domains]


async def _source(service: RegistryService, ctx: RequestContext, domain: str) -> Source:
    login = await service.credentials_for_domain(ctx, domain)
    return Source(domain, login["username"], login["password"]) if login else Source(domain)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def registry_view(row: RegistryRow) -> dict[str, Any]:
    """Zun's registry fields; the password is never shown, only whether one is set."""
    return {
        "uuid": row.uuid, "name": row.name, "domain": row.domain, "username": row.username,
        "password": MASK if row.password_encrypted else None, "project_id": row.project_id,
        "user_id": row.user_id, "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
    }  # fmt: skip
