"""A minimal HTTP/1.1 keep-alive client for load generation: cheap enough not to be the bottleneck.

httpx's async client spends about as much CPU per request as the server under test, so on a
2-core machine an open-loop load at a few hundred requests a second measured the generator.
This client writes each request as one pre-encoded buffer on a pooled connection and reads
the reply by Content-Length; it supports exactly what the load benchmark sends (no chunked
bodies, no redirects, no TLS).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> tuple[Reply, bool]:
        """Send one request; the reply and whether the connection may be reused."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length, keep = 0, True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
            elif name == "transfer-encoding":
                raise RuntimeError("rawhttp: chunked replies are not supported")
        body = await self.reader.readexactly(length) if length else b""
        return Reply(status, body), keep

    def close(self) -> None:
        self.writer.close()


class RawClient:
    """At most `connections` keep-alive connections to one server; requests queue for one."""

    def __init__(self, base_url: str, headers: dict[str, str], connections: int = 64) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        fixed = {"Host": f"{self.host}:{self.port}", **headers}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(connections)

    def _encode(self, method: str, path: str, body: Any) -> bytes:
        payload = b"" if body is None else json.dumps(body).encode()
        extra = f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        head = f"{method} {path} HTTP/1.1\r\n{self._fixed}{extra if payload else ''}\r\n"
        return head.encode("latin-1") + payload

    async def request(self, method: str, path: str, body: Any = None) -> Reply:
        data = self._encode(method, path, body)
        async with self._slots:
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else await self._connect()
            try:
                reply, keep = await conn.exchange(data)
            except (asyncio.IncompleteReadError, ConnectionResetError):
                conn.close()
                if not reused:
                    raise
                # The server closed an idle keep-alive connection (uvicorn: after 5 s) before
                # reading this request; it was not processed, so send it on a new one.
                conn = await self._connect()
                reply, keep = await conn.exchange(data)
            except BaseException:
                conn.close()
                raise
            if keep:
                self._idle.append(conn)
            else:
                conn.close()
            return reply

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return _Conn(reader, writer)

    async def aclose(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()
