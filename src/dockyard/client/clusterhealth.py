"""The health policy's HTTP poll of a cluster member (NODE_STATUS_POLL_URL)."""

from __future__ import annotations

import httpx

POLL_TIMEOUT = 5.0


async def poll(url: str, expected: str) -> bool:
    """Healthy when the URL answers 2xx (and its body contains `expected`, if given)."""
    try:
        async with httpx.AsyncClient(timeout=POLL_TIMEOUT) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return False
    return response.is_success and (not expected or expected in response.text)
