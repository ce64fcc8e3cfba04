"""The port through which services reach an agent's host API (client/hostapi.py implements it).

A port, so that services need neither httpx nor the client: the composition root
(api/app.py) hands ContainerService the client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from dockyard.db.tables import HostRow
from dockyard.errors import DockyardError


class HostCalls(Protocol):
    """The imperative operations on one container that need the host's reply."""

    async def logs(self, host: HostRow, engine_id: str, params: dict[str, Any]) -> str: ...

    async def execute(
        self, host: HostRow, engine_id: str, command: list[str], timeout: float
    ) -> dict[str, Any]: ...

    async def top(self, host: HostRow, engine_id: str, ps_args: str | None) -> dict[str, Any]: ...

    async def stats(self, host: HostRow, engine_id: str) -> dict[str, Any]: ...

    async def kill(self, host: HostRow, engine_id: str, signal: str | None) -> None: ...

    async def get_archive(
        self, host: HostRow, engine_id: str, path: str, missing: DockyardError
    ) -> tuple[bytes, dict[str, Any]]:
        """The tar of path in the container and its stat; raises `missing` if path is not."""
        ...

    async def put_archive(
        self, host: HostRow, engine_id: str, path: str, data: bytes, missing: DockyardError
    ) -> None:
        """Extract the tar data into the directory path; raises `missing` if path is not."""
        ...

    async def commit(
        self, host: HostRow, engine_id: str, repository: str, tag: str
    ) -> dict[str, Any]:
        """A new image on the host from the container: its id, size and tags."""
        ...

    def pull_image(
        self, host: HostRow, ref: str, auth: dict[str, str] | None, timeout: float
    ) -> AsyncIterator[dict[str, Any]]:
        """The host's pull of ref: progress steps, then a `done` or an `error` line."""
        ...

    async def remove_image(self, host: HostRow, ref: str) -> bool:
        """Remove ref from the host's engine; False if it was not there."""
        ...

    async def probe_http(
        self, host: HostRow, engine_id: str, target: dict[str, Any]
    ) -> dict[str, Any]:
        """An HTTP GET of the container's own address (target: ip, port, path, expected,
        timeout) made by its host from inside its network namespace: healthy, connected,
        status, reason. InvalidValue when the address is not the container's."""
        ...

    async def remove_volume(self, host: HostRow, name: str) -> None:
        """Remove the engine volume `name` (a missing one is fine); Conflict while in use."""
        ...
