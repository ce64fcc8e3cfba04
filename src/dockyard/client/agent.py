"""The agent's client of the control plane's agent API (HTTP, even inside one process)."""

from __future__ import annotations

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
    """The control plane no longer knows this host: register again."""


class AgentClient:
    def __init__(self, base_url: str, token: str | None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def register(self, registration: HostRegistration) -> HostRegistered:
        response = await self._http.post("/agent/v1/hosts", json=registration.model_dump())
        response.raise_for_status()
        return HostRegistered.model_validate(response.json())

    async def heartbeat(self, host_uuid: str) -> None:
        response = await self._http.post(f"/agent/v1/hosts/{host_uuid}/heartbeat")
        self._check(response)

    async def assignments(
        self, host_uuid: str, since: int, wait: float, *, full: bool = False
    ) -> AssignmentBatch:
        """Changes after revision `since` (long-poll), or with `full` the whole set at once."""
        params: dict[str, str | int | float] = {"since": since, "wait": wait}
        if full:
            params["full"] = "true"
        response = await self._http.get(
            f"/agent/v1/hosts/{host_uuid}/assignments",
            params=params,
            timeout=wait + 30,
        )
        self._check(response)
        return AssignmentBatch.model_validate(response.json())

    async def report(
        self,
        host_uuid: str,
        reports: list[ContainerReport],
        sandboxes: list[SandboxReport] | None = None,
    ) -> None:
        batch = ReportBatch(reports=reports, sandboxes=sandboxes or [])
        body = batch.model_dump(mode="json")
        response = await self._http.post(f"/agent/v1/hosts/{host_uuid}/reports", json=body)
        self._check(response)

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.status_code == 404:
            raise HostGone(response.text)
        response.raise_for_status()
