"""The host API's terminals: exec with a TTY, attach, resize, and logs as they are written.

The control plane reaches these with the host's secret like every host API call; the
websocket routes bridge it to the engine's hijacked exec/attach connection, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from dockyard import errors
from dockyard.runtime.terminals import EngineStream, ExecInfo, Terminals, frames

Handler = Callable[[Request], Awaitable[Response]]
TerminalsOf = Callable[[HTTPConnection], Terminals | None]
EXEC_ID = re.compile(r"^[0-9a-f]{64}$")
_EXIT_WAIT = 50  # × 0.05 s: the engine records an exit a moment after the stream ends


def stream_routes(
    prefix: str,
    guarded: Callable[[Handler], Handler],
    authorized: Callable[[HTTPConnection], bool],
    terminals_of: TerminalsOf,
) -> list[BaseRoute]:
    """Routes under prefix (/containers/{engine_id} of the host) behind the host's token."""
    http = _HttpCalls(terminals_of)
    ws = _Bridges(terminals_of, authorized)
    return [
        Route(f"{prefix}/exec_create", guarded(http.exec_create), methods=["POST"]),
        Route(f"{prefix}/exec/{{exec_id}}/resize", guarded(http.exec_resize), methods=["POST"]),
        Route(f"{prefix}/resize", guarded(http.resize), methods=["POST"]),
        Route(f"{prefix}/logs/follow", guarded(http.follow), methods=["GET"]),
        WebSocketRoute(f"{prefix}/exec/{{exec_id}}/ws", ws.exec),
        WebSocketRoute(f"{prefix}/attach/ws", ws.attach),
    ]


def _terminals(terminals_of: TerminalsOf, conn: HTTPConnection) -> Terminals:
    found = terminals_of(conn)
    if found is None:
        raise errors.RuntimeConflict(reason="this host's engine has no terminals")
    return found


def _size(body: Any) -> tuple[int, int]:
    try:
        height, width = int(body["height"]), int(body["width"])
    except (KeyError, TypeError, ValueError):
        raise errors.InvalidValue("height and width must be integers.") from None
    if not (0 < height <= 10000 and 0 < width <= 10000):
        raise errors.InvalidValue("height and width must be between 1 and 10000.")
    return height, width


def _owned_exec(terms: Terminals, engine_id: str, exec_id: str) -> ExecInfo:
    """404 unless exec_id is an exec of this very container (ids are not secrets)."""
    info = terms.exec_info(exec_id) if EXEC_ID.match(exec_id) else None
    if info is None or info.container_id != engine_id:
        raise errors.RuntimeNotFound(ident=exec_id)
    return info


class _HttpCalls:
    def __init__(self, terminals_of: TerminalsOf) -> None:
        self.terminals_of = terminals_of

    async def exec_create(self, request: Request) -> Response:
        body = await request.json()
        terms = _terminals(self.terminals_of, request)
        command = [str(part) for part in body["command"]]
        engine_id = request.path_params["engine_id"]
        exec_id = await asyncio.to_thread(
            terms.exec_create, engine_id, command, tty=bool(body.get("tty", True))
        )
        return JSONResponse({"exec_id": exec_id})

    async def exec_resize(self, request: Request) -> Response:
        height, width = _size(await request.json())
        terms = _terminals(self.terminals_of, request)
        exec_id, engine_id = request.path_params["exec_id"], request.path_params["engine_id"]
        info = await asyncio.to_thread(_owned_exec, terms, engine_id, exec_id)
        if not info.running:
            raise errors.RuntimeConflict(reason="the exec is not running (not opened, or ended)")
        await asyncio.to_thread(terms.exec_resize, exec_id, height, width)
        return Response(status_code=204)

    async def resize(self, request: Request) -> Response:
        height, width = _size(await request.json())
        terms = _terminals(self.terminals_of, request)
        engine_id = request.path_params["engine_id"]
        await asyncio.to_thread(terms.resize, engine_id, height, width)
        return Response(status_code=204)

    async def follow(self, request: Request) -> Response:
        terms = _terminals(self.terminals_of, request)
        tail = request.query_params.get("tail")
        chunks, handle = await asyncio.to_thread(
            terms.follow_logs, request.path_params["engine_id"], int(tail) if tail else None
        )
        return StreamingResponse(_drained(chunks, handle), media_type="text/plain")


async def _drained(chunks: Iterator[bytes], handle: object) -> AsyncIterator[bytes]:
    """The chunks, each read in a thread; the engine stream is closed however this ends."""
    done = object()
    try:
        while True:
            chunk = await asyncio.to_thread(next, chunks, done)
            if chunk is done or not isinstance(chunk, bytes):
                return
            yield chunk
    finally:
        close = getattr(handle, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()


class _Bridges:
    """Websocket ↔ engine connection; the close reason carries the exit code."""

    def __init__(self, terminals_of: TerminalsOf, authorized: Callable[[HTTPConnection], bool]):
        self.terminals_of = terminals_of
        self.authorized = authorized

    async def exec(self, ws: WebSocket) -> None:
        exec_id, engine_id = ws.path_params["exec_id"], ws.path_params["engine_id"]

        def opened(terms: Terminals) -> EngineStream:
            _owned_exec(terms, engine_id, exec_id)
            return terms.exec_stream(exec_id)

        def exit_code(terms: Terminals) -> int | None:
            return terms.exec_info(exec_id).exit_code

        await self._bridge(ws, opened, exit_code)

    async def attach(self, ws: WebSocket) -> None:
        engine_id = ws.path_params["engine_id"]
        await self._bridge(
            ws, lambda t: t.attach_stream(engine_id), lambda t: t.exit_code(engine_id)
        )

    async def _bridge(
        self,
        ws: WebSocket,
        opened: Callable[[Terminals], EngineStream],
        exit_code: Callable[[Terminals], int | None],
    ) -> None:
        if not self.authorized(ws):
            await ws.send_denial_response(JSONResponse({"detail": "bad agent token"}, 401))
            return
        try:
            terms = _terminals(self.terminals_of, ws)
            stream = await asyncio.to_thread(opened, terms)
        except errors.DockyardError as exc:
            await ws.send_denial_response(JSONResponse({"detail": exc.text}, _status(exc)))
            return
        await ws.accept()
        engine_ended = False
        try:
            engine_ended = await _pump(ws, stream)
        finally:
            if not engine_ended:
                await _hang_up(stream.sock)
            stream.sock.close()
        if engine_ended:
            code = await asyncio.to_thread(_settled, terms, exit_code)
            with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                await ws.close(code=1000, reason="" if code is None else f"exit_code={code}")


async def _hang_up(sock: socket.socket, wait: float = 2.0) -> None:
    """The client left: end the process's input, as the end of a pipe would, and give the
    engine a moment to see it (closed at once, the engine drops the stream, input open)."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(OSError, TimeoutError):
        sock.shutdown(socket.SHUT_WR)
        async with asyncio.timeout(wait):
            while await loop.sock_recv(sock, 65536):
                pass


def _status(exc: errors.DockyardError) -> int:
    if isinstance(exc, errors.RuntimeNotFound):
        return 404
    return 409 if isinstance(exc, errors.RuntimeConflict) else 500


def _settled(terms: Terminals, exit_code: Callable[[Terminals], int | None]) -> int | None:
    for _ in range(_EXIT_WAIT):
        try:
            code = exit_code(terms)
        except errors.DockyardError:
            return None
        if code is not None:
            return code
        time.sleep(0.05)
    return None


async def _pump(ws: WebSocket, stream: EngineStream) -> bool:
    """Copy both ways until one side ends; True if the engine's side ended first."""
    loop = asyncio.get_running_loop()

    async def engine_to_ws() -> None:
        buffer = bytearray()
        data = stream.pending
        while True:
            if stream.framed:
                buffer += data
                for payload in frames(buffer):
                    await ws.send_bytes(payload)
            elif data:
                await ws.send_bytes(data)
            data = await loop.sock_recv(stream.sock, 65536)
            if not data:
                return

    async def ws_to_engine() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            if not data:  # an empty frame: the client's stdin ended
                stream.sock.shutdown(socket.SHUT_WR)
                continue
            await loop.sock_sendall(stream.sock, data)

    return await _first_of(engine_to_ws(), ws_to_engine())


async def _first_of(engine: Awaitable[None], client: Awaitable[None]) -> bool:
    engine_task = asyncio.ensure_future(engine)
    client_task = asyncio.ensure_future(client)
    done, pending = await asyncio.wait(
        {engine_task, client_task}, return_when=asyncio.FIRST_COMPLETED
    )
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        if task.exception() and not isinstance(task.exception(), WebSocketDisconnect | OSError):
            raise task.exception()  # type: ignore[misc]
    return engine_task in done
