"""Console streams: interactive execute, execute_resize, attach, resize (Zun v1), the
websocket that Zun's clients open with the URL those return, and `logs?follow=true`.

The websocket at STREAM_PATH needs no X-Auth-Token (Zun's clients send none there): its
single-use token, issued to a caller who may use the container, is its credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from dockyard.api import deps
from dockyard.api.compat import error_body, parse_bool, parse_int
from dockyard.api.errors import kebab, status_of
from dockyard.errors import DockyardError, InvalidValue
from dockyard.services.streams import AgentStream, Opened, StreamService

router = APIRouter()
STREAM_PATH = "/v1/streams"
_C = "/v1/containers/{ident}"
EXEC_ID = re.compile(r"^[0-9a-f]{64}$")


def stream_url(request: Request, opened: Opened) -> str:
    """The websocket URL of a console: the API's own address, ws:// for http://."""
    base = deps.base_url(request)
    scheme, rest = base.split("://", 1)
    query = {"token": opened.token or "", "uuid": opened.container_uuid}
    if opened.exec_id:
        query["exec_id"] = opened.exec_id
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{STREAM_PATH}?{urlencode(query)}"


async def interactive_execute(
    request: Request, ident: str, command: str, interactive: bool
) -> JSONResponse:
    """execute with run=false: the exec's id, and with interactive its console URL."""
    svc, ctx = deps.services(request), deps.context(request)
    # Dockyard extension: tty=false for a piped stdin (`dockyard exec -i` in a pipe), so that
    # its end reaches the process as end of input; Zun's clients always get a TTY.
    tty = parse_bool(request.query_params.get("tty", interactive), "tty")
    async with svc.actions.recorded(ctx, "exec_cmd", ident):
        opened = await svc.streams.open_exec(
            ctx, ident, command, interactive=interactive, tty=tty and interactive
        )
    proxy_url = stream_url(request, opened) if opened.token else None
    body = {"output": None, "exit_code": None, "exec_id": opened.exec_id, "proxy_url": proxy_url}
    return JSONResponse(body)


def _size(query: dict[str, object]) -> tuple[int, int]:
    """(height, width) from Zun's `h` and `w`."""
    if query.get("h") in (None, "") or query.get("w") in (None, ""):
        raise InvalidValue("h and w are required (the terminal's rows and columns).")
    return (
        parse_int(query["h"], "h", minimum=1, maximum=10000),
        parse_int(query["w"], "w", minimum=1, maximum=10000),
    )


@router.post(f"{_C}/execute_resize")
async def execute_resize(request: Request, ident: str) -> Response:
    query = await deps.params(request)
    exec_id = str(query.get("exec_id") or "")
    if not EXEC_ID.match(exec_id):
        raise InvalidValue("exec_id must be the 64 hexadecimal digits execute returned.")
    height, width = _size(query)
    svc = deps.services(request).streams
    await svc.exec_resize(deps.context(request), ident, exec_id, height, width)
    return Response(status_code=200)


@router.get(f"{_C}/attach")
async def attach(request: Request, ident: str) -> JSONResponse:
    svc, ctx = deps.services(request), deps.context(request)
    async with svc.actions.recorded(ctx, "container_attach", ident):
        opened = await svc.streams.open_attach(ctx, ident)
    return JSONResponse(stream_url(request, opened))


@router.post(f"{_C}/resize")
async def resize(request: Request, ident: str) -> Response:
    height, width = _size(await deps.params(request))
    svc, ctx = deps.services(request), deps.context(request)
    async with svc.actions.recorded(ctx, "resize", ident):
        await svc.streams.resize(ctx, ident, height, width)
    return Response(status_code=200)


async def follow_logs(request: Request, ident: str, tail: int | None) -> StreamingResponse:
    """logs?follow=true (a Dockyard extension; Zun has no follow): plain text as written."""
    chunks = await deps.services(request).streams.follow_logs(deps.context(request), ident, tail)
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8")


async def stream(ws: WebSocket) -> None:
    """The console websocket: a plain Starlette route, outside the app-wide policy check
    (its caller has no X-Auth-Token; the token in the URL decides)."""
    svc: StreamService = ws.app.state.services.streams
    try:
        agent = await svc.connect(ws.query_params.get("token", ""), ws.query_params.get("uuid"))
    except DockyardError as exc:
        await _refuse(ws, exc)
        return
    offered = ws.scope.get("subprotocols") or []
    try:  # zunclient offers binary and base64 and insists that one is chosen
        await ws.accept(subprotocol="binary" if "binary" in offered else None)
        reason = await _relay(ws, agent)
    finally:
        await agent.close()
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await ws.close(code=1000, reason=reason)


router.routes.append(WebSocketRoute(STREAM_PATH, stream))


async def _refuse(ws: WebSocket, exc: DockyardError) -> None:
    """Answer the handshake with the Zun error (e.g. 401 for a used token), not an upgrade."""
    status = status_of(exc)
    code = f"container.{kebab(type(exc).__name__)}"
    request_id = f"req-{uuid.uuid4()}"
    body = error_body(status, code, exc.text, exc.text, request_id)
    headers = {"x-openstack-request-id": request_id}
    await ws.send_denial_response(
        Response(body, status, headers=headers, media_type="application/json")
    )


# UTF-8 lead bytes: (mask, value under the mask, length of the character it starts)
_LEADS = ((0b11111000, 0b11110000, 4), (0b11110000, 0b11100000, 3), (0b11100000, 0b11000000, 2))


def utf8_cut(data: bytes) -> int:
    """How much of data to send now: all but a UTF-8 character cut at its end.

    zunclient decodes every websocket message as UTF-8 on its own and fails on a character
    split between two; the rest of it comes with the next message.
    """
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for its lead
            continue
        size = next((n for mask, lead, n in _LEADS if byte & mask == lead), 1)
        return len(data) - back if size > back else len(data)
    return len(data)


async def _relay(ws: WebSocket, agent: AgentStream) -> str:
    """Copy both ways until one side ends; the agent's close reason (the exit code) or ''."""

    async def to_client() -> None:
        held = b""
        while (data := await agent.recv()) is not None:
            data = held + data
            cut = utf8_cut(data)
            held = data[cut:]
            if cut:
                await ws.send_bytes(data[:cut])
        if held:
            await ws.send_bytes(held)

    async def to_agent() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            await agent.send(data if data is not None else message.get("text", "").encode())

    tasks = [asyncio.ensure_future(to_client()), asyncio.ensure_future(to_agent())]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        error = task.exception()
        if error is not None and not isinstance(error, WebSocketDisconnect | OSError):
            raise error
    return agent.close_reason if tasks[0] in done else ""
