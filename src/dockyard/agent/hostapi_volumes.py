"""The host API's volume call: remove a named volume's engine volume when it is deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dockyard.runtime.base import ContainerRuntime

Handler = Callable[[Request], Awaitable[Response]]


def volume_routes(prefix: str, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """Routes under prefix (the host's root, or /hosts/<name>) behind the host's token."""
    return [Route(f"{prefix}/volumes/remove", guarded(remove), methods=["POST"])]


async def remove(request: Request) -> Response:
    """204 once gone (or never made: the engine makes it at the first mount); 409 in use."""
    body: dict[str, Any] = await request.json()
    runtime: ContainerRuntime = request.state.runtime
    await asyncio.to_thread(runtime.remove_volume, str(body["name"]))
    return Response(status_code=204)
