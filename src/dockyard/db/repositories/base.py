"""What every tenant-owned repository shares: the project scope and lookup by uuid or name."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import Select, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from dockyard.domain.tenancy import TenantScope
from dockyard.errors import Conflict, NotFound

_S = TypeVar("_S", bound=Select[Any])


class _Owned(Protocol):
    uuid: Any
    project_id: Any


RowT = TypeVar("RowT", bound=_Owned)
AnyRowT = TypeVar("AnyRowT")


def is_uuid(value: str) -> bool:
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


def scoped_to(stmt: _S, project_id: Any, scope: TenantScope) -> _S:
    """stmt narrowed to the scope's project (`project_id`: the owning column); every
    repository's tenancy goes through here, ORM statements and Core reads alike."""
    if scope.is_unrestricted:
        return stmt
    return stmt.where(project_id == scope.project_id)


class ScopedRepository(Generic[AnyRowT]):
    """The tenancy every repository applies, in one place: a session, a TenantScope, and
    `_scoped()` to narrow a statement to the scope's project; never commits.

    Kept apart from TenantRepository because the cluster tables (Senlin's identities: `id`,
    short ids) look rows up differently but must scope them the same way.
    """

    row: ClassVar[Any]

    def __init__(self, session: AsyncSession, scope: TenantScope) -> None:
        self.session = session
        self.scope = scope

    def _scoped(self, stmt: _S) -> _S:
        return scoped_to(stmt, self.row.project_id, self.scope)

    def add(self, row: AnyRowT) -> None:
        self.session.add(row)


class TenantRepository(ScopedRepository[RowT]):
    """Rows of one project-owned table, always seen through a TenantScope; never commits.

    Subclasses name the row class, the error for a missing object, and whether a
    (project-unique) name may stand for the uuid.
    """

    not_found: ClassVar[type[NotFound]]
    kind: ClassVar[str]
    by_name: ClassVar[bool] = True

    async def find(self, ident: str, *, for_update: bool = False) -> RowT | None:
        """The row whose uuid (or name) is ident, in scope, or None."""
        if is_uuid(ident):
            column = self.row.uuid
        elif self.by_name:
            column = self.row.name
        else:
            return None
        stmt = self._scoped(select(self.row).where(column == ident))
        if for_update:
            stmt = stmt.with_for_update()
        rows = (await self.session.scalars(stmt.limit(2))).all()
        if len(rows) > 1:
            raise Conflict(
                f"Multiple {self.kind}s exist with same name. "
                f"Please use the {self.kind} uuid instead."
            )
        return rows[0] if rows else None

    async def get(self, ident: str, *, for_update: bool = False) -> RowT:
        found = await self.find(ident, for_update=for_update)
        if found is None:
            raise self.not_found(ident=ident)
        return found

    async def bump_generation(self, row: RowT) -> int:
        """Count one more change of row's desired state, in SQL (`generation + 1`), so that
        concurrent changes are all counted even where no row lock orders them."""
        table = self.row
        generation = await self.session.scalar(
            update(table)
            .where(table.uuid == row.uuid)
            .values(generation=table.generation + 1)
            .returning(table.generation)
            .execution_options(synchronize_session=False)
        )
        if generation is None:
            raise self.not_found(ident=str(row.uuid))
        set_committed_value(row, "generation", int(generation))  # what the database now holds
        return int(generation)

    async def delete(self, row: RowT) -> bool:
        """Delete the row; False if it was already gone (a concurrent delete won)."""
        result = await self.session.execute(delete(self.row).where(self.row.uuid == row.uuid))
        return bool(result.rowcount)  # type: ignore[attr-defined]
