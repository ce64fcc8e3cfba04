"""Ports as Neutron shows them: read-only, made and released with their containers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.db.engine import Sessions
from dockyard.db.networks_tables import PortRow
from dockyard.db.repositories.ports import FILTERS, PortRepository
from dockyard.domain.tenancy import RequestContext
from dockyard.services.networks import scope_of

# Neutron's port filters; device_id and fixed_ips are matched by the repository itself.
PORT_FILTERS = {**FILTERS, "device_id": FILTERS["id"], "fixed_ips": FILTERS["id"]}


@dataclass
class PortService:
    sessions: Sessions

    async def list(self, ctx: RequestContext, filters: dict[str, list[Any]]) -> Sequence[PortRow]:
        async with self.sessions() as session:
            return await PortRepository(session, scope_of(ctx)).list(filters)

    async def get(self, ctx: RequestContext, ident: str) -> PortRow:
        async with self.sessions() as session:
            return await PortRepository(session, scope_of(ctx)).get(ident)
