"""Console streams: interactive exec, attach, TTY resize and followed logs of a container.

A console URL carries a single-use token that expires in seconds (settings.api.
stream_token_ttl). The token, not the caller's X-Auth-Token, opens the websocket, because
Zun's clients open it without one; so it is issued only to a caller who may use the
container, bound to that container (and exec), stored as a digest, and redeemed once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.repositories.containers import ContainerRepository
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.streamtokens import StreamTokenRepository
from dockyard.db.streams_tables import StreamTokenRow
from dockyard.db.tables import ContainerRow, HostRow, utcnow
from dockyard.domain.containers import Action, Status, check_allowed
from dockyard.domain.tenancy import RequestContext, TenantScope
from dockyard.errors import (
    Conflict,
    ContainerNotFound,
    HostUnavailable,
    StreamTokenRefused,
)
from dockyard.services.container_requests import exec_argv
from dockyard.services.scheduling import is_host_up
from dockyard.settings import Settings

EXEC, ATTACH = "exec", "attach"


class AgentStream(Protocol):
    """An open stream to the agent's exec/attach bridge (client/hoststreams.AgentStream)."""

    async def send(self, data: bytes) -> None: ...
    async def recv(self) -> bytes | None: ...
    @property
    def close_reason(self) -> str: ...
    async def close(self) -> None: ...


class HostStreams(Protocol):
    """The agent's terminal endpoints (client/hoststreams.HostStreamClient implements it)."""

    async def exec_create(
        self, host: HostRow, engine_id: str, command: list[str], tty: bool
    ) -> str: ...
    async def exec_resize(
        self, host: HostRow, engine_id: str, exec_id: str, height: int, width: int
    ) -> None: ...
    async def resize(self, host: HostRow, engine_id: str, height: int, width: int) -> None: ...
    def follow_logs(
        self, host: HostRow, engine_id: str, tail: int | None
    ) -> AsyncIterator[bytes]: ...
    async def open_stream(self, host: HostRow, path: str) -> AgentStream: ...


@dataclass(frozen=True)
class Opened:
    """An exec made (not started) or an attach allowed; `token` opens its stream once."""

    container_uuid: str
    exec_id: str | None
    token: str | None


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class StreamService:
    sessions: Sessions
    settings: Settings
    hosts: HostStreams

    async def open_exec(
        self, ctx: RequestContext, ident: str, command: str, *, interactive: bool, tty: bool
    ) -> Opened:
        """Zun's execute with run=false: an exec instance; with interactive, a token to type
        into it (on a TTY unless `tty` is False: then the end of input closes its stdin)."""
        argv = exec_argv(command)
        row, host = await self._target(ctx, ident, Action.EXECUTE)
        exec_id = await self.hosts.exec_create(host, str(row.container_id), argv, tty)
        token = await self._issue(row, EXEC, exec_id) if interactive else None
        return Opened(row.uuid, exec_id, token)

    async def open_attach(self, ctx: RequestContext, ident: str) -> Opened:
        """A token to attach to the container's stdin/stdout (Zun: only if interactive)."""
        row, _host = await self._target(ctx, ident, Action.EXECUTE)
        if not row.spec.interactive:
            raise Conflict(
                f"Container {row.uuid} was not created interactive: it has no stdin to attach."
            )
        return Opened(row.uuid, None, await self._issue(row, ATTACH, None))

    async def exec_resize(
        self, ctx: RequestContext, ident: str, exec_id: str, height: int, width: int
    ) -> None:
        row, host = await self._target(ctx, ident, Action.EXECUTE)
        await self.hosts.exec_resize(host, str(row.container_id), exec_id, height, width)

    async def resize(self, ctx: RequestContext, ident: str, height: int, width: int) -> None:
        row, host = await self._target(ctx, ident, Action.EXECUTE)
        await self.hosts.resize(host, str(row.container_id), height, width)

    async def follow_logs(
        self, ctx: RequestContext, ident: str, tail: int | None
    ) -> AsyncIterator[bytes]:
        """The container's output as it is written (its lookup fails before any byte)."""
        row, host = await self._target(ctx, ident, Action.LOGS)
        return self.hosts.follow_logs(host, str(row.container_id), tail)

    async def connect(self, token: str, container_uuid: str | None) -> AgentStream:
        """Redeem the token (once, before it expires) and open the agent's stream for it."""
        claim = await self._redeem(token)
        if container_uuid and container_uuid != claim.container_uuid:
            raise StreamTokenRefused(reason="it was issued for another container.")
        scope = TenantScope(project_id=claim.project_id)
        async with self.sessions() as session:
            row = await ContainerRepository(session, scope).find(claim.container_uuid)
            if row is None:
                raise ContainerNotFound(ident=claim.container_uuid)
            host = await self._host_of(session, row, Action.EXECUTE)
        engine_id = str(row.container_id)
        if claim.kind == EXEC:
            path = f"/containers/{engine_id}/exec/{claim.exec_id}/ws"
        else:
            path = f"/containers/{engine_id}/attach/ws"
        return await self.hosts.open_stream(host, path)

    # --- helpers ---------------------------------------------------------------------------

    async def _issue(self, row: ContainerRow, kind: str, exec_id: str | None) -> str:
        token = secrets.token_urlsafe(32)
        now = utcnow()
        ttl = timedelta(seconds=self.settings.api.stream_token_ttl)
        async with transaction(self.sessions) as session:
            repo = StreamTokenRepository(session)
            await repo.purge(now)
            await repo.add(
                StreamTokenRow(
                    digest=digest_of(token), kind=kind, container_uuid=row.uuid,
                    project_id=row.project_id, exec_id=exec_id, created_at=now,
                    expires_at=now + ttl,
                )
            )  # fmt: skip
        return token

    async def _redeem(self, token: str) -> StreamTokenRow:
        digest, now = digest_of(token), utcnow()
        async with transaction(self.sessions) as session:
            repo = StreamTokenRepository(session)
            redeemed = await repo.redeem(digest, now)
            row = await repo.find(digest)
        if row is None:
            raise StreamTokenRefused(reason="it is not a token this service issued.")
        if not redeemed:
            used = row.used_at is not None
            raise StreamTokenRefused(reason="it was already used." if used else "it expired.")
        return row

    async def _target(
        self, ctx: RequestContext, ident: str, action: Action
    ) -> tuple[ContainerRow, HostRow]:
        # Zun: an admin reaches every project's container by its id; others only their own.
        scope = TenantScope.all_projects() if ctx.is_admin else TenantScope.of(ctx, False)
        async with self.sessions() as session:
            row = await ContainerRepository(session, scope).get(ident)
            return row, await self._host_of(session, row, action)

    async def _host_of(self, session: Session, row: ContainerRow, action: Action) -> HostRow:
        check_allowed(action, Status(row.status), row.uuid)
        if row.host_uuid is None or row.container_id is None:
            raise Conflict(f"Container {row.uuid} has no engine container yet.")
        host = await HostRepository(session).get(row.host_uuid)
        if not is_host_up(host, self.settings.scheduler):
            raise HostUnavailable(host=host.hostname, uuid=row.uuid)
        return host
