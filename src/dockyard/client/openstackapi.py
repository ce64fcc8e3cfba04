"""The plumbing of the httpx clients of the OpenStack APIs Dockyard mounts beside Zun's
(Neutron's at /network, Senlin's at /cluster): one pool, one microversion, faults as ApiError."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from dockyard.client.containers import DEFAULT_TIMEOUT, ApiError, ServerUnreachable

Document = dict[str, Any]


def root_of(base_url: str) -> str:
    """Dockyard's root URL, given with or without /v1."""
    url = base_url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class OpenStackApiClient:
    """Calls to one API root; a subclass names the key of its API's fault document."""

    fault_key: ClassVar[str]  # Neutron's "NeutronError", Senlin's "error"

    def __init__(self, url: str, version: str, token: str | None) -> None:
        self.url = url
        headers = {"OpenStack-API-Version": version, "Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=DEFAULT_TIMEOUT)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Document | None = None,
                params: dict[str, str] | None = None) -> Document:  # fmt: skip
        """The JSON answer of one call (empty_answer() when it has none); ApiError for an
        error answer."""
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.url, type(exc).__name__) from None
        if response.is_error:
            raise self._error(response)
        if not response.content:
            return self.empty_answer(response)
        result: Document = response.json()
        return result

    def empty_answer(self, response: httpx.Response) -> Document:
        return {}

    def _error(self, response: httpx.Response) -> ApiError:
        """The API's own fault document (`<fault_key>.message`), else Zun's."""
        try:
            body = response.json()
        except ValueError:
            body = None
        fault = body.get(self.fault_key) if isinstance(body, dict) else None
        if isinstance(fault, dict) and fault.get("message"):
            return ApiError(response.status_code, str(fault.get("type", "")), str(fault["message"]))
        return ApiError.from_response(response)
