"""Cluster objects seen through a TenantScope; Senlin's identities (uuid, name, short id)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dockyard.db.clusters_tables import (
    ClusterActionRow,
    ClusterBindingRow,
    ClusterEventRow,
    ClusterNodeRow,
    ClusterPolicyRow,
    ClusterProfileRow,
    ClusterReceiverRow,
    ClusterRow,
)
from dockyard.db.repositories.base import ScopedRepository, is_uuid
from dockyard.domain.clusters import ACTION_DONE, ClusterObjectNotFound, MultipleChoices
from dockyard.errors import Invalid

RowT = TypeVar("RowT")
_SHORT_ID = re.compile(r"^[0-9a-f-]{1,36}$")


class OwnedRepository(ScopedRepository[RowT]):
    """Rows of one project-owned cluster table; never commits."""

    kind: ClassVar[str]
    sort_keys: ClassVar[tuple[str, ...]] = ("name", "created_at", "updated_at")

    async def find(self, ident: str, *, for_update: bool = False) -> RowT | None:
        """By uuid, else by name, else by a unique prefix of the id (Senlin's short id)."""
        for column, value in self._lookups(ident):
            stmt = self._scoped(select(self.row).where(column(value)))
            if for_update:
                stmt = stmt.with_for_update()
            rows = (await self.session.scalars(stmt.limit(2))).all()
            if len(rows) > 1:
                raise MultipleChoices(kind=self.kind, ident=ident)
            if rows:
                return rows[0]  # type: ignore[no-any-return]
        return None

    def _lookups(self, ident: str) -> list[tuple[Any, str]]:
        if is_uuid(ident):
            return [(self.row.id.__eq__, ident)]
        lookups: list[tuple[Any, str]] = [(self.row.name.__eq__, ident)]
        if _SHORT_ID.match(ident):
            lookups.append((self.row.id.startswith, ident))
        return lookups

    async def get(self, ident: str, *, for_update: bool = False) -> RowT:
        found = await self.find(ident, for_update=for_update)
        if found is None:
            raise ClusterObjectNotFound(kind=self.kind, ident=ident)
        return found

    async def remove(self, row: RowT) -> None:
        await self.session.delete(row)

    async def list(
        self,
        filters: Mapping[str, Any],
        *,
        limit: int,
        marker: str | None = None,
        sort: Sequence[tuple[str, str]] = (),
    ) -> Sequence[RowT]:
        """One page: rows matching every filter (a list value: any of them), sorted."""
        stmt = self._scoped(select(self.row))
        for key, value in filters.items():
            column = getattr(self.row, key)
            stmt = stmt.where(column.in_(value) if isinstance(value, list) else column == value)
        order = [self._order(key, direction) for key, direction in sort]
        order.append(self.row.id.asc())
        if marker:
            stmt = stmt.where(await self._after(marker))
        return (await self.session.scalars(stmt.order_by(*order).limit(limit))).all()

    def _order(self, key: str, direction: str) -> Any:
        if key not in self.sort_keys:
            raise Invalid(f"Unsupported sort key '{key}' for '{self.kind}'.")
        column = getattr(self.row, key)
        return column.desc() if direction == "desc" else column.asc()

    async def _after(self, marker: str) -> Any:
        # Marker pages follow creation order; a marker row must exist in scope.
        row = await self.find(marker)
        if row is None:
            raise Invalid(f"The marker '{marker}' could not be found.")
        created = self.row.created_at
        value: datetime = row.created_at  # type: ignore[attr-defined]
        return or_(created > value, and_(created == value, self.row.id > row.id))  # type: ignore[attr-defined]


class ProfileRepository(OwnedRepository[ClusterProfileRow]):
    row = ClusterProfileRow
    kind = "profile"
    sort_keys = ("name", "type", "created_at", "updated_at")


class PolicyRepository(OwnedRepository[ClusterPolicyRow]):
    row = ClusterPolicyRow
    kind = "policy"
    sort_keys = ("name", "type", "created_at", "updated_at")


class ClusterRepository(OwnedRepository[ClusterRow]):
    row = ClusterRow
    kind = "cluster"
    sort_keys = ("name", "status", "init_at", "created_at", "updated_at")

    async def uses_profile(self, profile_id: str) -> bool:
        node = select(ClusterNodeRow.id).where(ClusterNodeRow.profile_id == profile_id)
        cluster = select(ClusterRow.id).where(ClusterRow.profile_id == profile_id)
        found = await self.session.scalar(cluster.union_all(node).limit(1))
        return found is not None


class NodeRepository(OwnedRepository[ClusterNodeRow]):
    row = ClusterNodeRow
    kind = "node"
    sort_keys = ("name", "index", "status", "init_at", "created_at", "updated_at")

    async def members(self, cluster_id: str) -> Sequence[ClusterNodeRow]:
        stmt = self._scoped(select(ClusterNodeRow).where(ClusterNodeRow.cluster_id == cluster_id))
        return (await self.session.scalars(stmt.order_by(ClusterNodeRow.index))).all()

    async def of_physical(self, physical_id: str) -> ClusterNodeRow | None:
        """The node (in any project: a container is one node at most) made of physical_id."""
        stmt = select(ClusterNodeRow).where(ClusterNodeRow.physical_id == physical_id)
        return (await self.session.scalars(stmt.limit(1))).first()


class ReceiverRepository(OwnedRepository[ClusterReceiverRow]):
    row = ClusterReceiverRow
    kind = "receiver"
    sort_keys = ("name", "type", "action", "cluster_id", "created_at")

    async def by_secret_hash(self, digest: str) -> ClusterReceiverRow | None:
        stmt = select(ClusterReceiverRow).where(ClusterReceiverRow.secret_hash == digest)
        return (await self.session.scalars(stmt)).first()


class ActionRepository(OwnedRepository[ClusterActionRow]):
    row = ClusterActionRow
    kind = "action"
    sort_keys = ("name", "target", "action", "created_at", "status")

    async def open_for(self, cluster_id: str) -> Sequence[ClusterActionRow]:
        """The cluster's actions that have not ended, oldest first."""
        stmt = (
            select(ClusterActionRow)
            .where(ClusterActionRow.cluster_id == cluster_id)
            .where(ClusterActionRow.status.not_in([s.value for s in ACTION_DONE]))
            .order_by(ClusterActionRow.created_at, ClusterActionRow.id)
        )
        return (await self.session.scalars(stmt)).all()


class EventRepository(OwnedRepository[ClusterEventRow]):
    row = ClusterEventRow
    kind = "event"
    sort_keys = ("timestamp", "level", "otype", "oname", "action", "status", "oid", "cluster_id")

    def _lookups(self, ident: str) -> list[tuple[Any, str]]:
        if is_uuid(ident):
            return [(self.row.id.__eq__, ident)]
        return [(self.row.id.startswith, ident)] if _SHORT_ID.match(ident) else []

    async def _after(self, marker: str) -> Any:
        row = await self.get(marker)
        stamp = ClusterEventRow.timestamp
        return or_(stamp > row.timestamp, and_(stamp == row.timestamp, ClusterEventRow.id > row.id))


class BindingRepository:
    """Policy bindings of the clusters a scope may see (through their cluster)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_cluster(self, cluster_id: str) -> list[tuple[ClusterBindingRow, ClusterPolicyRow]]:
        stmt = (
            select(ClusterBindingRow, ClusterPolicyRow)
            .join(ClusterPolicyRow, ClusterPolicyRow.id == ClusterBindingRow.policy_id)
            .where(ClusterBindingRow.cluster_id == cluster_id)
            .order_by(ClusterBindingRow.priority, ClusterBindingRow.created_at)
        )
        return [(b, p) for b, p in (await self.session.execute(stmt)).all()]

    async def find(self, cluster_id: str, policy_id: str) -> ClusterBindingRow | None:
        stmt = select(ClusterBindingRow).where(
            ClusterBindingRow.cluster_id == cluster_id, ClusterBindingRow.policy_id == policy_id
        )
        return (await self.session.scalars(stmt)).first()

    async def policy_in_use(self, policy_id: str) -> bool:
        stmt = select(ClusterBindingRow.id).where(ClusterBindingRow.policy_id == policy_id)
        return (await self.session.scalar(stmt.limit(1))) is not None

    def add(self, row: ClusterBindingRow) -> None:
        self.session.add(row)

    async def remove(self, row: ClusterBindingRow) -> None:
        await self.session.delete(row)

    async def remove_all(self, cluster_id: str) -> None:
        await self.session.execute(
            delete(ClusterBindingRow).where(ClusterBindingRow.cluster_id == cluster_id)
        )


class LeaseRepository:
    """Which replica's controller works on which cluster: leases taken with SKIP LOCKED.

    A lease is a claim with an end: the replica that holds it converges the cluster; when it
    dies, the lease runs out and another replica takes the cluster. The rows are locked only
    while a lease is taken (SKIP LOCKED on PostgreSQL gives concurrent replicas disjoint
    clusters; SQLite's BEGIN IMMEDIATE makes the taking exclusive), never while working.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def take(self, owner: str, now: datetime, until: datetime, limit: int) -> list[str]:
        free = or_(ClusterRow.lease_until.is_(None), ClusterRow.lease_until < now)
        stmt = (
            select(ClusterRow.id)
            .where(or_(free, ClusterRow.lease_owner == owner))
            .order_by(ClusterRow.lease_until.asc().nulls_first(), ClusterRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list((await self.session.scalars(stmt)).all())
        if ids:
            await self.session.execute(
                update(ClusterRow)
                .where(ClusterRow.id.in_(ids))
                .values(lease_owner=owner, lease_until=until, updated_at=ClusterRow.updated_at)
                .execution_options(synchronize_session=False)
            )
        return ids

    async def release(self, owner: str, cluster_id: str, until: datetime | None) -> None:
        """Give the lease back (until=None) or keep the cluster until `until`."""
        await self.session.execute(
            update(ClusterRow)
            .where(ClusterRow.id == cluster_id, ClusterRow.lease_owner == owner)
            .values(
                lease_until=until,
                lease_owner=owner if until else None,
                updated_at=ClusterRow.updated_at,  # a lease is not a change of the cluster
            )
            .execution_options(synchronize_session=False)
        )
