"""Container actions: every request that acts on a container, recorded with its outcome.

Any operation on a container wraps itself in `recorded()`:

    async with services.actions.recorded(ctx, "stop", ident):
        await services.containers.stop(ctx, ident, timeout)

The record (Zun's action plus one event) is written when the operation ends, whatever the
outcome, in its own transaction: a failed operation rolls its own work back but is still
recorded (a create, which records only success, writes it in its own: `add_action`). An
accepted request that the host carries out later (ASYNCHRONOUS) stays open, without a
finish time, until the host reports the outcome (`record_host_outcome`, or
`record_engine_failure` when it failed). A caller's error (bad input, wrong state) is shown
to the caller as the action's message; an engine or server error shows only "Error", and
its text (with a traceback for an unexpected one) goes to the event's `traceback`, which
only `container:action:events` (administrators) may read.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dockyard.db.actions_tables import ContainerActionEventRow, ContainerActionRow
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.actions import ActionRepository
from dockyard.db.repositories.containers import ContainerRepository
from dockyard.db.tables import new_uuid, utcnow
from dockyard.domain.containers import Status
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import Conflict, Invalid, NotAuthorized, NotFound, ResourceNotFound
from dockyard.services import policy
from dockyard.services.scheduling import NO_HOST_REASON

# Errors whose text is about the caller's request, so the caller may read it.
_CALLERS_ERRORS = (Invalid, NotFound, Conflict, NotAuthorized)
SUCCESS, ERROR = "Success", "Error"
ASYNCHRONOUS = frozenset({"create", "start", "stop", "reboot", "pause", "unpause", "rebuild"})


@dataclass
class Recording:
    """An action under way; `container_uuid` may be set inside the block (create)."""

    action: str
    container_uuid: str | None
    event: str = ""
    started: datetime = field(default_factory=utcnow)


def _scope(ctx: RequestContext) -> TenantScope:
    # As for containers: an administrator reaches every project's container by uuid or name.
    return TenantScope.all_projects() if ctx.is_admin else TenantScope.of(ctx)


@dataclass
class ActionService:
    sessions: Sessions

    async def _container_uuid(self, ctx: RequestContext, ident: str) -> str:
        async with self.sessions() as session:
            return (await ContainerRepository(session, _scope(ctx)).get(ident)).uuid

    @contextlib.asynccontextmanager
    async def recorded(
        self, ctx: RequestContext, action: str, ident: str | None = None
    ) -> AsyncIterator[Recording]:
        """Record `action` on the container `ident` (404 first if the caller cannot see it);
        with no ident, the block sets `container_uuid` once the container exists."""
        uuid = await self._container_uuid(ctx, ident) if ident is not None else None
        recording = Recording(action, uuid, event=f"api_{action}")
        try:
            yield recording
        except Exception as exc:
            await self._write(ctx, recording, exc)
            raise
        await self._write(ctx, recording, None)

    async def _write(self, ctx: RequestContext, rec: Recording, exc: Exception | None) -> None:
        if rec.container_uuid is None:  # nothing was made: no container to record against
            return
        async with transaction(self.sessions) as session:
            waits = await add_action(session, ctx, rec, rec.container_uuid, exc)
            outcome = await _outcome_so_far(session, rec.container_uuid) if waits else None
            if outcome is not None:
                await record_host_outcome(session, [rec.container_uuid], *outcome)

    async def list(self, ctx: RequestContext, ident: str) -> list[dict[str, Any]]:
        """Zun's views of the container's actions, newest first; 404 if the caller cannot
        see the container."""
        uuid = await self._container_uuid(ctx, ident)
        async with self.sessions() as session:
            return [action_view(r) for r in await ActionRepository(session).list_for(uuid)]

    async def get(self, ctx: RequestContext, ident: str, request_id: str) -> dict[str, Any]:
        """Zun's view of the action of request_id on the container, with its events (their
        tracebacks only for `container:action:events`)."""
        uuid = await self._container_uuid(ctx, ident)
        show_traceback = policy.is_allowed(ctx, "container:action:events")
        async with self.sessions() as session:
            repo = ActionRepository(session)
            action = await repo.find(uuid, request_id)
            if action is None:
                raise ResourceNotFound(name="Action", ident=request_id)
            events = await repo.events_of(action.uuid)
        view = action_view(action)
        view["events"] = [event_view(e, show_traceback) for e in events]
        return view


async def add_action(
    session: Session,
    ctx: RequestContext,
    rec: Recording,
    container_uuid: str,
    exc: Exception | None = None,
) -> bool:
    """Write the action of `rec` on the container and its one event; whether it stays open
    until the host reports. A create writes its own inside its transaction: no outcome can
    precede it there, and the POST is spared a second write transaction."""
    started, now = rec.started, utcnow()
    action = ContainerActionRow(
        uuid=new_uuid(), container_uuid=container_uuid, request_id=ctx.request_id,
        project_id=ctx.project_id, user_id=ctx.user_id, action=rec.action,
        start_time=started, finish_time=now, message=_public_message(exc),
    )  # fmt: skip
    waits = exc is None and rec.action in ASYNCHRONOUS
    if waits:
        action.finish_time = None  # until the host reports the outcome
    event = ContainerActionEventRow(
        action_uuid=action.uuid, event=rec.event, start_time=started, finish_time=now,
        result=SUCCESS if exc is None else ERROR, traceback=_details(exc),
    )  # fmt: skip
    await ActionRepository(session).add(action, [event])
    return waits


async def _outcome_so_far(session: Session, container_uuid: str) -> tuple[str | None, str] | None:
    """(failure reason or None, who told) if the container already settled every accepted
    change before this action was written; None while its host is still at it.

    The row is locked, as apply_reports locks it: an outcome either comes before this
    action is written (and is seen here) or after (and finishes it)."""
    repo = ContainerRepository(session, TenantScope.all_projects())
    row = await repo.find(container_uuid, for_update=True)
    if row is None:
        return None, "deleted"  # nothing is left to wait for
    reason = (row.status_reason or ERROR) if row.status == Status.ERROR.value else None
    if reason is not None and row.host_uuid is None:  # no host took it, or it was removed
        return reason, "scheduler" if row.status_reason == NO_HOST_REASON else "host_removed"
    if row.observed_generation >= row.generation:
        return reason, "agent_report"
    return None


async def record_host_outcome(
    session: Session,
    container_uuids: Sequence[str],
    reason: str | None = None,
    event: str = "agent_report",
) -> int:
    """Finish the containers' open actions: their host reported the outcome (with `reason`:
    it failed; `event` names who told). How many were finished."""
    repo = ActionRepository(session)
    now = utcnow()
    finished = await repo.finish_open(container_uuids, now, ERROR if reason is not None else None)
    events = [
        ContainerActionEventRow(
            uuid=new_uuid(),
            action_uuid=action_uuid,
            event=event,
            start_time=start_time,
            finish_time=now,
            result=SUCCESS if reason is None else ERROR,
            traceback=reason,
        )
        for action_uuid, start_time in finished
    ]
    await repo.add_events(events)
    return len(events)


async def record_engine_failure(session: Session, container_uuid: str, reason: str | None) -> None:
    """The host failed the container's latest action after the API had accepted it (a pull,
    a start): mark that action failed, with the engine's words in an administrators' event."""
    if await record_host_outcome(session, [container_uuid], reason or ERROR):
        return
    repo = ActionRepository(session)
    action = await repo.latest(container_uuid)
    if action is None:
        return
    action.message = action.message or ERROR
    now = utcnow()
    event = ContainerActionEventRow(
        uuid=new_uuid(), action_uuid=action.uuid, event="agent_report", start_time=now,
        finish_time=now, result=ERROR, traceback=reason,
    )  # fmt: skip
    await repo.add_events([event])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def action_view(row: ContainerActionRow) -> dict[str, Any]:
    return {
        "action": row.action,
        "container_uuid": row.container_uuid,
        "message": row.message,
        "project_id": row.project_id,
        "request_id": row.request_id,
        "start_time": _iso(row.start_time),
        "finish_time": _iso(row.finish_time),
        "user_id": row.user_id,
    }


def event_view(row: ContainerActionEventRow, show_traceback: bool) -> dict[str, Any]:
    return {
        "event": row.event,
        "start_time": _iso(row.start_time),
        "finish_time": _iso(row.finish_time),
        "result": row.result,
        # Engine errors and tracebacks: administrators only (Zun keeps the key, as null).
        "traceback": row.traceback if show_traceback else None,
    }


def _public_message(exc: Exception | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, _CALLERS_ERRORS):
        return str(exc)
    return ERROR  # engine and server errors: their text is for administrators


def _details(exc: Exception | None) -> str | None:
    if exc is None:
        return None
    if isinstance(exc, _CALLERS_ERRORS):
        return f"{type(exc).__name__}: {exc}"
    return "".join(traceback.format_exception(exc))
