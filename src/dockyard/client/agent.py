"""The agent's client of the control plane's agent API (HTTP requests, always).

`ControlPlane` holds the replicas' URLs and one HTTP connection pool for every host of the
process; a replica that does not answer (connection error, timeout, 5xx) is left for the
next one at once, so long-polls, heartbeats and reports carry on through a replica's death.
`AgentClient` is one host's view: its uuid and credential.

Inside `dockyard serve` the requests go to the process's own ASGI app without a socket
(`transport`): the same requests, authentication, middleware and handlers, minus a loopback
connection and HTTP parsing on both ends, each of which cost the one event loop turns that
the API's own callers were waiting for (a create's report is on their critical path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from dockyard.schemas.agent import (
    AssignmentBatch,
    ContainerReport,
    HostRegistered,
    HostRegistration,
    ReportBatch,
    SandboxReport,
)


class HostGone(Exception):
    """The control plane no longer knows this host (it was removed while we waited)."""


class CredentialRefused(Exception):
    """The control plane refused this host's credential (401/403): removed or rotated."""


class ReportRefused(Exception):
    """The control plane answered a report with a 4xx of its content (not of the identity)."""


class JoinRefused(Exception):
    """The control plane refused to make a host (bad join token, or the name is taken)."""


class ControlPlaneUnavailable(Exception):
    """No replica answered."""


# What a caller may try again: no replica answered, or one answered with an unexpected error
# (a 5xx while it restarts). Callers catch this tuple, so they need not import httpx.
RETRYABLE: tuple[type[Exception], ...] = (ControlPlaneUnavailable, httpx.HTTPError)


class ControlPlane:
    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = 30.0,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not urls:
            raise ValueError("at least one control-plane URL is needed")
        self.urls = [url.rstrip("/") for url in urls]
        self._current = 0
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport)

    @property
    def url(self) -> str:
        return self.urls[self._current]

    async def close(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, secret: str, **kwargs: Any) -> httpx.Response:
        """Send to the current replica; on no answer or a 5xx, to the next, each once."""
        headers = {"Authorization": f"Bearer {secret}"}
        failure = ""
        for _ in range(len(self.urls)):
            url = self.url
            try:
                response = await self._http.request(method, url + path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                failure = f"{url}: {type(exc).__name__}"
                self._fail_over(url)
                continue
            if response.status_code < 500:
                return response
            failure = f"{url}: HTTP {response.status_code}"
            self._fail_over(url)
        raise ControlPlaneUnavailable(f"no control-plane replica answered (last: {failure})")

    def _fail_over(self, failed: str) -> None:
        # Only the first of many concurrent failures moves on, so one dead replica skips
        # exactly one place in the list.
        if self.url == failed:
            self._current = (self._current + 1) % len(self.urls)


class AgentClient:
    """One host's calls; `uuid` and `credential` are set once the host has an identity."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.control_plane = control_plane
        self.uuid: str | None = None
        self.credential: str | None = None

    async def close(self) -> None:
        await self.control_plane.close()

    async def join(self, registration: HostRegistration, join_token: str) -> HostRegistered:
        """Make a new host with the deployment's join token; returns its credential."""
        response = await self.control_plane.request(
            "POST", "/agent/v1/hosts", join_token, json=registration.model_dump()
        )
        if response.status_code in (400, 401, 403, 409):
            raise JoinRefused(_detail(response))
        response.raise_for_status()
        return HostRegistered.model_validate(response.json())

    async def refresh(self, registration: HostRegistration) -> HostRegistered:
        """Tell the control plane this host's new address, secret and capacity."""
        response = await self._call("PUT", "", json=registration.model_dump())
        if response.status_code == 409:
            raise JoinRefused(_detail(response))
        self._check(response)
        return HostRegistered.model_validate(response.json())

    async def rotate(self) -> str:
        """A new credential for this host; the old one stops working."""
        response = await self._call("POST", "/credential")
        self._check(response)
        credential = HostRegistered.model_validate(response.json()).credential
        if not credential:
            raise ControlPlaneUnavailable("the control plane returned no credential")
        return credential

    async def heartbeat(self, cpu_observed: float | None = None) -> None:
        body = None if cpu_observed is None else {"cpu_observed": cpu_observed}
        self._check(await self._call("POST", "/heartbeat", json=body))

    async def assignments(self, since: int, wait: float, *, full: bool = False) -> AssignmentBatch:
        """Changes after revision `since` (long-poll), or with `full` the whole set at once."""
        params: dict[str, str | int | float] = {"since": since, "wait": wait}
        if full:
            params["full"] = "true"
        response = await self._call("GET", "/assignments", params=params, timeout=wait + 30)
        self._check(response)
        return AssignmentBatch.model_validate(response.json())

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None:
        batch = ReportBatch(reports=reports, sandboxes=sandboxes or [])
        body = batch.model_dump(mode="json")
        response = await self._call("POST", "/reports", json=body)
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404):
            raise ReportRefused(_detail(response))
        self._check(response)

    async def _call(self, method: str, tail: str, **kwargs: Any) -> httpx.Response:
        if self.uuid is None or self.credential is None:
            raise CredentialRefused("this host has no identity yet")
        path = f"/agent/v1/hosts/{self.uuid}{tail}"
        return await self.control_plane.request(method, path, self.credential, **kwargs)

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise CredentialRefused(_detail(response))
        if response.status_code == 404:
            raise HostGone(_detail(response))
        response.raise_for_status()


def _detail(response: httpx.Response) -> str:
    """The control plane's reason (Zun error body), for a log line or a refusal."""
    try:
        errors = response.json().get("errors") or []
        return str(errors[0].get("detail")) if errors else response.text[:300]
    except (ValueError, AttributeError):
        return response.text[:300]
