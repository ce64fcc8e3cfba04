"""Control plane → agent host API: the imperative operations that need a reply.

The control plane's services use it through their port, services/hostcalls.HostCalls.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from dockyard.errors import (
    AgentFailure,
    Conflict,
    DockyardError,
    ExecTimeout,
    HostUnavailable,
    ImageNotFound,
    InvalidValue,
)

ARCHIVE_TIMEOUT = 120.0  # s: a tar of up to MAX_ARCHIVE bytes, both ways, through one call
COMMIT_TIMEOUT = 300.0  # s: the engine copies the container's whole layer


class AgentAddress(Protocol):
    """Where an agent's host API answers and the secret it gave at registration."""

    @property
    def hostname(self) -> str: ...
    @property
    def agent_url(self) -> str: ...
    @property
    def agent_token(self) -> str: ...


class HostApiClient:
    """Calls an agent's host API with the secret that agent gave at registration."""

    def __init__(self, timeout: float = 30.0) -> None:
        self._client = httpx.AsyncClient(timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def _call(
        self,
        host: AgentAddress,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
        missing: DockyardError | None = None,
    ) -> httpx.Response:
        url = host.agent_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {host.agent_token}"}
        try:
            response = await self._client.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                timeout=timeout or self._client.timeout,
            )
        except httpx.TransportError as exc:
            raise HostUnavailable(
                f"Host {host.hostname} does not answer ({type(exc).__name__})."
            ) from exc
        if response.status_code == 400:
            raise InvalidValue(_reason(response))
        if response.status_code == 404:
            if missing is not None:
                raise missing
            raise Conflict("The container does not exist in the engine (yet); try again later.")
        if response.status_code == 409:
            raise Conflict(_reason(response))
        if response.status_code == 504:
            raise ExecTimeout(_reason(response))
        if response.status_code >= 400:
            raise AgentFailure(host=host.hostname, reason=_reason(response))
        return response

    async def logs(self, host: AgentAddress, engine_id: str, params: dict[str, Any]) -> str:
        response = await self._call(host, "GET", f"/containers/{engine_id}/logs", params=params)
        return response.content.decode("utf-8", errors="replace")

    async def execute(
        self, host: AgentAddress, engine_id: str, command: list[str], timeout: float
    ) -> dict[str, Any]:
        body = {"command": command, "timeout": timeout}
        response = await self._call(
            host, "POST", f"/containers/{engine_id}/exec", json=body, timeout=timeout + 10
        )
        result: dict[str, Any] = response.json()
        return result

    async def top(self, host: AgentAddress, engine_id: str, ps_args: str | None) -> dict[str, Any]:
        params = {"ps_args": ps_args} if ps_args else None
        response = await self._call(host, "GET", f"/containers/{engine_id}/top", params=params)
        result: dict[str, Any] = response.json()
        return result

    async def stats(self, host: AgentAddress, engine_id: str) -> dict[str, Any]:
        response = await self._call(host, "GET", f"/containers/{engine_id}/stats")
        result: dict[str, Any] = response.json()
        return result

    async def kill(self, host: AgentAddress, engine_id: str, signal: str | None) -> None:
        await self._call(host, "POST", f"/containers/{engine_id}/kill", json={"signal": signal})

    async def get_archive(
        self, host: AgentAddress, engine_id: str, path: str, missing: DockyardError
    ) -> tuple[bytes, dict[str, Any]]:
        """The tar of path in the container and path's stat; `missing` if path is not there."""
        response = await self._call(
            host, "GET", f"/containers/{engine_id}/archive", params={"path": path},
            timeout=ARCHIVE_TIMEOUT, missing=missing,
        )  # fmt: skip
        body: dict[str, Any] = response.json()
        return base64.b64decode(body["data"]), dict(body["stat"])

    async def put_archive(
        self, host: AgentAddress, engine_id: str, path: str, data: bytes, missing: DockyardError
    ) -> None:
        """Extract the tar data into the directory path; `missing` if path is not there."""
        body = {"data": base64.b64encode(data).decode("ascii")}
        await self._call(
            host, "PUT", f"/containers/{engine_id}/archive", params={"path": path}, json=body,
            timeout=ARCHIVE_TIMEOUT, missing=missing,
        )  # fmt: skip

    async def commit(
        self, host: AgentAddress, engine_id: str, repository: str, tag: str
    ) -> dict[str, Any]:
        """docker commit on the host: the new image's id, size and tags."""
        response = await self._call(
            host, "POST", f"/containers/{engine_id}/commit",
            json={"repository": repository, "tag": tag}, timeout=COMMIT_TIMEOUT,
        )  # fmt: skip
        result: dict[str, Any] = response.json()
        return result

    # --- images (client/hostapi.py keeps the transport; errors as the container calls) ---

    async def pull_image(
        self, host: AgentAddress, ref: str, auth: dict[str, str] | None, timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The agent's pull, line by line: progress steps, then `done` or `error`."""
        url = host.agent_url.rstrip("/") + "/images/pull"
        headers = {"Authorization": f"Bearer {host.agent_token}"}
        limit = httpx.Timeout(timeout, connect=10.0)
        try:
            async with self._client.stream(
                "POST", url, json={"ref": ref, "auth": auth}, headers=headers, timeout=limit
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise AgentFailure(host=host.hostname, reason=_reason(response))
                async for line in response.aiter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise HostUnavailable(
                f"Host {host.hostname} does not answer ({type(exc).__name__})."
            ) from exc

    async def remove_image(self, host: AgentAddress, ref: str) -> bool:
        """Remove the image from the host's engine; False if it was not there."""
        try:
            await self._call(
                host, "POST", "/images/remove", json={"ref": ref}, missing=ImageNotFound(ref=ref)
            )
        except ImageNotFound:
            return False
        return True

    async def probe_http(
        self, host: AgentAddress, engine_id: str, target: dict[str, Any]
    ) -> dict[str, Any]:
        """The agent's GET of the container's own address from inside its network namespace:
        `target` holds ip, port, path, expected and timeout; the verdict holds healthy,
        connected, status and reason."""
        timeout = float(target.get("timeout", 5.0)) + 10  # the probe's own limit, then ours
        response = await self._call(
            host, "POST", f"/containers/{engine_id}/probe", json=target, timeout=timeout
        )
        result: dict[str, Any] = response.json()
        return result

    async def remove_volume(self, host: AgentAddress, name: str) -> None:
        """Remove the engine volume from the host (a missing one is fine)."""
        await self._call(host, "POST", "/volumes/remove", json={"name": name})


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("detail") or body)[:500] if isinstance(body, dict) else str(body)[:500]
