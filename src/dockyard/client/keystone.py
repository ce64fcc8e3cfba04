"""Keystone's identity API over HTTP, for the API's token validation (api/auth/keystone.py)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from dockyard.errors import IdentityUnavailable

log = logging.getLogger(__name__)

# Tests pass a transport that counts the requests reaching the real Keystone.
Transport = httpx.AsyncBaseTransport
Response = httpx.Response


class KeystoneHttp:
    """One connection pool to Keystone; a Keystone that does not answer is IdentityUnavailable."""

    def __init__(self, url: str, timeout: float, transport: Transport | None = None) -> None:
        self.url = url
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, method: str, path: str, **kwargs: Any) -> Response:
        """Keystone's answer, whatever its status; IdentityUnavailable if none came."""
        try:
            return await self._client.request(method, f"{self.url}{path}", **kwargs)
        except httpx.HTTPError as exc:
            log.error("Keystone at %s does not answer: %s", self.url, type(exc).__name__)
            raise IdentityUnavailable() from exc
