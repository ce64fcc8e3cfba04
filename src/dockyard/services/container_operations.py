"""A container's imperative operations: kill, logs, exec, top and stats.

Each is answered by the agent of the container's host over its host API and changes no
desired state, so none is a transaction of ContainerService's; apart from it, as the files
operations are (containerfiles.py), on the same `engine_target` look-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.db.tables import ContainerRow
from dockyard.domain.containers import Action
from dockyard.domain.tenancy import RequestContext
from dockyard.services.container_requests import exec_argv
from dockyard.services.containers import ContainerService
from dockyard.services.hostcalls import HostCalls
from dockyard.settings import Settings


@dataclass
class ContainerOperations:
    containers: ContainerService
    hostcalls: HostCalls
    settings: Settings

    async def kill(self, ctx: RequestContext, ident: str, signal: str | None) -> ContainerRow:
        """Send `signal` (SIGKILL if None) to the container; the row as it was."""
        row, host = await self.containers.engine_target(ctx, ident, Action.KILL)
        await self.hostcalls.kill(host, str(row.container_id), signal)
        return row

    async def logs(self, ctx: RequestContext, ident: str, params: dict[str, Any]) -> str:
        """The container's logs as the engine gives them (params: Zun's stdout, tail, ...)."""
        row, host = await self.containers.engine_target(ctx, ident, Action.LOGS)
        return await self.hostcalls.logs(host, str(row.container_id), params)

    async def execute(self, ctx: RequestContext, ident: str, command: str) -> dict[str, Any]:
        """Run `command` (a shell-like string) in the container to its end: output, exit code."""
        row, host = await self.containers.engine_target(ctx, ident, Action.EXECUTE)
        timeout = self.settings.api.exec_timeout
        return await self.hostcalls.execute(
            host, str(row.container_id), exec_argv(command), timeout
        )

    async def top(self, ctx: RequestContext, ident: str, ps_args: str | None) -> dict[str, Any]:
        """The container's processes (titles and rows), as `ps` with ps_args would list them."""
        row, host = await self.containers.engine_target(ctx, ident, Action.TOP)
        return await self.hostcalls.top(host, str(row.container_id), ps_args)

    async def stats(self, ctx: RequestContext, ident: str) -> dict[str, Any]:
        """One sample of the container's resource use, as the engine reports it."""
        row, host = await self.containers.engine_target(ctx, ident, Action.STATS)
        return await self.hostcalls.stats(host, str(row.container_id))
