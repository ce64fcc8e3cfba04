"""Control plane → agent host API: the terminal calls (exec with a TTY, attach, resize, follow).

Websockets to the agent carry the host's secret in the Authorization header, as every host
API call does; services/streams.HostStreams is the port the services see.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from dockyard.client.hostapi import AgentAddress
from dockyard.errors import (
    AgentFailure,
    Conflict,
    DockyardError,
    HostUnavailable,
    InvalidValue,
    NotFound,
)


class AgentStream:
    """One open websocket to an agent's exec or attach bridge."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    async def send(self, data: bytes) -> None:
        await self._connection.send(data)

    async def recv(self) -> bytes | None:
        """The next bytes from the engine; None once the agent has closed the stream."""
        try:
            message = await self._connection.recv()
        except ConnectionClosed:
            return None
        return message if isinstance(message, bytes) else message.encode()

    @property
    def close_reason(self) -> str:
        return self._connection.close_reason or ""

    async def close(self) -> None:
        await self._connection.close()


class HostStreamClient:
    """The agent's terminal endpoints; errors as client/hostapi.py maps them."""

    def __init__(self, timeout: float = 30.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def _post(self, host: AgentAddress, path: str, body: dict[str, Any]) -> httpx.Response:
        url = host.agent_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {host.agent_token}"}
        try:
            response = await self._client.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise _unavailable(host, exc) from exc
        _raise_for(host, response.status_code, response.content)
        return response

    async def exec_create(
        self, host: AgentAddress, engine_id: str, command: list[str], tty: bool
    ) -> str:
        body = {"command": command, "tty": tty}
        response = await self._post(host, f"/containers/{engine_id}/exec_create", body)
        return str(response.json()["exec_id"])

    async def exec_resize(
        self, host: AgentAddress, engine_id: str, exec_id: str, height: int, width: int
    ) -> None:
        path = f"/containers/{engine_id}/exec/{exec_id}/resize"
        await self._post(host, path, {"height": height, "width": width})

    async def resize(self, host: AgentAddress, engine_id: str, height: int, width: int) -> None:
        path = f"/containers/{engine_id}/resize"
        await self._post(host, path, {"height": height, "width": width})

    async def follow_logs(
        self, host: AgentAddress, engine_id: str, tail: int | None
    ) -> AsyncIterator[bytes]:
        """The container's output as the engine writes it, until it stops or we stop reading."""
        url = host.agent_url.rstrip("/") + f"/containers/{engine_id}/logs/follow"
        headers = {"Authorization": f"Bearer {host.agent_token}"}
        params = {"tail": str(tail)} if tail is not None else None
        limit = httpx.Timeout(None, connect=10.0)
        try:
            async with self._client.stream(
                "GET", url, params=params, headers=headers, timeout=limit
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _raise_for(host, response.status_code, response.content)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.TransportError as exc:
            raise _unavailable(host, exc) from exc

    async def open_stream(self, host: AgentAddress, path: str) -> AgentStream:
        """A websocket to the agent's bridge at path (…/exec/<id>/ws or …/attach/ws)."""
        url = "ws" + host.agent_url.rstrip("/").removeprefix("http") + path
        headers = {"Authorization": f"Bearer {host.agent_token}"}
        try:
            connection = await connect(
                url, additional_headers=headers, max_size=None, open_timeout=10
            )
        except InvalidStatus as exc:
            _raise_for(host, exc.response.status_code, bytes(exc.response.body or b""))
            raise AgentFailure(host=host.hostname, reason="stream refused") from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise _unavailable(host, exc) from exc
        return AgentStream(connection)


def _unavailable(host: AgentAddress, exc: BaseException) -> HostUnavailable:
    return HostUnavailable(f"Host {host.hostname} does not answer ({type(exc).__name__}).")


def _raise_for(host: AgentAddress, status: int, body: bytes) -> None:
    if status < 400:
        return
    try:
        reason = str(json.loads(body).get("detail"))[:500]
    except (ValueError, AttributeError):
        reason = body.decode("utf-8", errors="replace")[:500]
    errors: dict[int, DockyardError] = {
        400: InvalidValue(reason),
        404: NotFound(reason),
        409: Conflict(reason),
    }
    raise errors.get(status, AgentFailure(host=host.hostname, reason=reason))
