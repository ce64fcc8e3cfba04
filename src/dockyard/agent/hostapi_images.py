"""The host API's image calls: pull (streamed progress), inspect and remove."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from dockyard import errors
from dockyard.runtime.base import ContainerRuntime, PullProgress, RegistryAuth

Handler = Callable[[Request], Awaitable[Response]]
_DONE = object()


def image_routes(prefix: str, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """Routes under prefix (the host's root, or /hosts/<name>) behind the host's token."""
    return [
        Route(f"{prefix}/images/pull", guarded(pull), methods=["POST"]),
        Route(f"{prefix}/images/inspect", guarded(inspect), methods=["GET"]),
        Route(f"{prefix}/images/remove", guarded(remove), methods=["POST"]),
    ]


def _runtime(request: Request) -> ContainerRuntime:
    runtime: ContainerRuntime = request.state.runtime
    return runtime


async def pull(request: Request) -> Response:
    """NDJSON: one line per progress step, then `{"done": image}` or `{"error", "kind"}`.

    Streamed, so that a long pull shows its progress and no proxy times the call out.
    """
    body = await request.json()
    ref = str(body["ref"])
    given = body.get("auth")
    auth = RegistryAuth(**given) if isinstance(given, dict) else None
    runtime = _runtime(request)
    return StreamingResponse(_pull_lines(runtime, ref, auth), media_type="application/x-ndjson")


async def _pull_lines(
    runtime: ContainerRuntime, ref: str, auth: RegistryAuth | None
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    steps: asyncio.Queue[object] = asyncio.Queue()

    def tell(step: PullProgress) -> None:
        loop.call_soon_threadsafe(steps.put_nowait, step)

    def work() -> None:
        try:
            runtime.pull_image(ref, auth, tell)
            info = runtime.image_info(ref)
            result: object = {"done": asdict(info) if info else None}
        except errors.ImageNotFound as exc:
            result = {"error": exc.text, "kind": "not-found"}
        except errors.DockyardError as exc:
            result = {"error": exc.text, "kind": "failure"}
        loop.call_soon_threadsafe(steps.put_nowait, result)
        loop.call_soon_threadsafe(steps.put_nowait, _DONE)

    worker = asyncio.ensure_future(asyncio.to_thread(work))
    while (step := await steps.get()) is not _DONE:
        line = asdict(step) if isinstance(step, PullProgress) else step
        yield json.dumps(line).encode() + b"\n"
    await worker


async def inspect(request: Request) -> Response:
    ref = request.query_params["ref"]
    info = await asyncio.to_thread(_runtime(request).image_info, ref)
    if info is None:
        raise errors.RuntimeNotFound(ident=ref)
    return JSONResponse(asdict(info))


async def remove(request: Request) -> Response:
    body: dict[str, Any] = await request.json()
    await asyncio.to_thread(_runtime(request).remove_image, str(body["ref"]))
    return Response(status_code=204)
