"""Container rows, always seen through a TenantScope; repositories never commit."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, Table, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dockyard.db.changes import CONTAINERS, publish
from dockyard.db.repositories.base import TenantRepository, is_uuid, scoped_to
from dockyard.db.tables import ContainerRow
from dockyard.domain.containerspec import ContainerSpec
from dockyard.domain.records import ContainerRecord
from dockyard.domain.tenancy import TenantScope
from dockyard.errors import Conflict, ContainerNotFound, Invalid

_T: Table = ContainerRow.__table__  # type: ignore[assignment]

# Columns a list may be sorted by; Zun's default `id` is its insertion order.
SORT_COLUMNS: dict[str, Any] = {
    "id": _T.c.created_at,
    "created_at": _T.c.created_at,
    "updated_at": _T.c.updated_at,
    "name": _T.c.name,
    "image": _T.c.image,
    "status": _T.c.status,
    "uuid": _T.c.uuid,
    "memory": _T.c.memory,
    "cpu": _T.c.cpu,
    "project_id": _T.c.project_id,
    "user_id": _T.c.user_id,
    "host": _T.c.host_uuid,
    "task_state": _T.c.task_state,
}


class ShownContainer(NamedTuple):
    """What Zun's container view reads of a row (domain/records.ContainerRecord), and no
    more: GET /v1/containers[/{uuid}] reads these columns with a Core select on a bare
    connection (ShownContainers). An ORM session and object load cost twice the query's
    CPU, on the request the clients poll most."""

    uuid: str
    name: str
    spec: ContainerSpec
    status: str
    status_reason: str | None
    task_state: str | None
    hostname: str | None
    host_uuid: str | None
    sandbox_uuid: str | None
    project_id: str
    user_id: str
    addresses: dict[str, Any] | None
    ports: list[int] | None
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    created_at: datetime
    updated_at: datetime


_SHOWN = select(*(_T.c[name] for name in ShownContainer._fields))
# GET's statements, built once with bound parameters: building and hashing a statement per
# request cost a third of the read's CPU. Keyed by (by uuid, scoped to a project).
_SHOW_ONE = {
    (by_uuid, scoped): (
        _SHOWN.where((_T.c.uuid if by_uuid else _T.c.name) == bindparam("ident"))
        .where(*([_T.c.project_id == bindparam("project_id")] if scoped else []))
        .limit(2)
    )
    for by_uuid in (True, False)
    for scoped in (True, False)
}


@functools.lru_cache(maxsize=128)
def _page(
    filters: tuple[str, ...], sort_key: str, desc: bool, scoped: bool, limit: int
) -> Select[Any]:
    """A list's statement with its filters' values (`filter_<key>`) and the project as bound
    parameters, built once per shape: building and hashing it took a third of a list's CPU."""
    column = SORT_COLUMNS[sort_key]
    # Capsule members are listed with their capsule, not here (as in Zun).
    stmt = _SHOWN.where(_T.c.capsule_uuid.is_(None))
    if scoped:
        stmt = stmt.where(_T.c.project_id == bindparam("project_id"))
    for key in filters:
        stmt = stmt.where(_T.c[key] == bindparam(f"filter_{key}"))
    order = (column.desc(), _T.c.uuid.desc()) if desc else (column.asc(), _T.c.uuid.asc())
    return stmt.order_by(*order).limit(limit)


def _shown_is_a_record(shown: ShownContainer) -> ContainerRecord:
    """Never called: mypy fails here the day ShownContainer stops satisfying the view's
    Protocol."""
    return shown


class ShownContainers:
    """Containers as the API shows them, scoped like ContainerRepository; reads only."""

    def __init__(self, connection: AsyncConnection, scope: TenantScope) -> None:
        self.connection = connection
        self.scope = scope

    async def get(self, ident: str) -> ShownContainer:
        """The container whose uuid (or name) is ident, in scope; ContainerNotFound
        otherwise, Conflict when a name stands for several (ContainerRepository.find's
        rules)."""
        scoped = not self.scope.is_unrestricted  # as scoped_to() scopes
        stmt = _SHOW_ONE[(is_uuid(ident), scoped)]
        params = {"ident": ident, "project_id": self.scope.project_id}
        rows = (await self.connection.execute(stmt, params)).all()
        if len(rows) > 1:
            raise Conflict(
                "Multiple containers exist with same name. Please use the container uuid instead."
            )
        if not rows:
            raise ContainerNotFound(ident=ident)
        return ShownContainer._make(rows[0])

    async def list(
        self,
        filters: Mapping[str, Any],
        *,
        limit: int,
        marker: str | None = None,
        sort_key: str = "id",
        sort_dir: str = "asc",
    ) -> list[ShownContainer]:
        """One page, ordered by sort_key then uuid, starting after the marker's row."""
        column = SORT_COLUMNS.get(sort_key)
        if column is None:
            raise Invalid(f"Invalid sort_key {sort_key}; allowed: {', '.join(SORT_COLUMNS)}.")
        scoped = not self.scope.is_unrestricted  # as scoped_to() scopes
        params = {f"filter_{key}": value for key, value in filters.items()}
        params["project_id"] = self.scope.project_id
        stmt = _page(tuple(filters), sort_key, sort_dir == "desc", scoped, limit)
        if marker:  # paging on: built each time (a NULL marker value must compare as NULL)
            stmt = stmt.where(await self._after(marker, column, sort_dir))
        result = await self.connection.execute(stmt, params)
        return [ShownContainer._make(row) for row in result]

    async def _after(self, marker: str, column: Any, sort_dir: str) -> Any:
        found = None
        if is_uuid(marker):
            stmt = select(column).where(_T.c.uuid == marker)
            found = (await self.connection.execute(
                scoped_to(stmt, _T.c.project_id, self.scope)
            )).first()  # fmt: skip
        if found is None:
            raise Invalid(f"Marker {marker} could not be found.")
        (value,) = found
        if sort_dir == "desc":
            return or_(column < value, and_(column == value, _T.c.uuid < marker))
        return or_(column > value, and_(column == value, _T.c.uuid > marker))


class ContainerRepository(TenantRepository[ContainerRow]):
    row = ContainerRow
    not_found = ContainerNotFound
    kind = "container"

    async def delete(self, row: ContainerRow) -> bool:
        """Delete the row; a `?wait_status` watch on it wakes (and answers 404) at commit."""
        publish(self.session, CONTAINERS, row.uuid)
        return await super().delete(row)

    async def name_taken(self, project_id: str, name: str, exclude_uuid: str | None = None) -> bool:
        stmt = select(func.count()).where(
            ContainerRow.project_id == project_id, ContainerRow.name == name
        )
        if exclude_uuid:
            stmt = stmt.where(ContainerRow.uuid != exclude_uuid)
        return bool(await self.session.scalar(stmt))

    async def list_for_host(self, host_uuid: str, since_revision: int) -> Sequence[ContainerRow]:
        """The host's containers changed after since_revision (all of them for 0)."""
        stmt = self._scoped(
            select(ContainerRow).where(
                ContainerRow.host_uuid == host_uuid, ContainerRow.revision > since_revision
            )
        )
        return (await self.session.scalars(stmt.order_by(ContainerRow.revision))).all()
