"""The host API's file calls on one container: archives out and in, and commit."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard import errors
from dockyard.runtime.base import MAX_ARCHIVE, ContainerRuntime

Handler = Callable[[Request], Awaitable[Response]]


def file_routes(prefix: str, guarded: Callable[[Handler], Handler]) -> list[Route]:
    """Routes under prefix (…/containers/{engine_id}) behind the host's token."""
    return [
        Route(f"{prefix}/archive", guarded(get_archive), methods=["GET"]),
        Route(f"{prefix}/archive", guarded(put_archive), methods=["PUT"]),
        Route(f"{prefix}/commit", guarded(commit), methods=["POST"]),
    ]


def _runtime(request: Request) -> ContainerRuntime:
    runtime: ContainerRuntime = request.state.runtime
    return runtime


def _path(request: Request) -> str:
    path = request.query_params.get("path", "")
    if not path:
        raise errors.InvalidValue("path is required.")
    return path


async def get_archive(request: Request) -> Response:
    """`{"data": <base64 tar>, "stat": {…}}`: base64 whatever the caller's microversion."""
    data, stat = await asyncio.to_thread(
        _runtime(request).get_archive, request.path_params["engine_id"], _path(request)
    )
    return JSONResponse({"data": base64.b64encode(data).decode("ascii"), "stat": stat})


async def put_archive(request: Request) -> Response:
    """The body is `{"data": <base64 tar>}`, as from get_archive."""
    path = _path(request)
    body = await request.json()
    data = base64.b64decode(str(body["data"]), validate=True)
    if len(data) > MAX_ARCHIVE:
        raise errors.InvalidValue("The archive is too large.")
    await asyncio.to_thread(
        _runtime(request).put_archive, request.path_params["engine_id"], path, data
    )
    return Response(status_code=204)


async def commit(request: Request) -> Response:
    body = await request.json()
    image = await asyncio.to_thread(
        _runtime(request).commit,
        request.path_params["engine_id"],
        str(body["repository"]),
        str(body["tag"]),
    )
    return JSONResponse(asdict(image))
