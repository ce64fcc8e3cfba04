"""The raw ASGI pieces of the middlewares that negotiate a microversion (Zun's in compat.py,
Senlin's in routes/cluster/wire.py): they run before any route, so they read and answer at
this level, and they did so alike."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import Message, Scope, Send

Headers = Sequence[tuple[bytes, bytes]]


def header_of(scope: Scope, name: str) -> str | None:
    """The request's first header called `name` (lower case), or None."""
    key = name.encode()
    for k, v in scope.get("headers", []):
        if k.lower() == key:
            return str(v.decode("latin-1"))
    return None


def adding_headers(send: Send, extra: Headers) -> Send:
    """`send`, with `extra` appended to the headers of the response's start."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = list(message.get("headers", [])) + list(extra)
        await send(message)

    return send_with_headers


async def send_json(send: Send, status: int, body: bytes, headers: Headers = ()) -> None:
    """A whole JSON response, sent before any route ran."""
    start_headers = [(b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": start_headers})
    await send({"type": "http.response.body", "body": body})
