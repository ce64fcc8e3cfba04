"""Typed httpx client of the clustering API (Senlin v1 at /cluster), for `dockyard cluster`."""

from __future__ import annotations

from typing import Any

import httpx

from dockyard.client.containers import DEFAULT_TIMEOUT, ApiError, ServerUnreachable

Document = dict[str, Any]


def cluster_endpoint(base_url: str) -> str:
    """The clustering API root: Dockyard's URL (with or without /v1) plus /cluster."""
    url = base_url.rstrip("/")
    url = url[: -len("/v1")] if url.endswith("/v1") else url
    return url if url.endswith("/cluster") else f"{url}/cluster"


class ClustersClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.url = cluster_endpoint(base_url)
        headers = {"OpenStack-API-Version": "clustering 1.14", "Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=DEFAULT_TIMEOUT)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, body: Document | None = None,
                params: dict[str, str] | None = None) -> Document:  # fmt: skip
        """The JSON answer of one call ({} when it has none); ApiError for an error answer."""
        try:
            response = self._http.request(method, path, json=body, params=params)
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.url, type(exc).__name__) from None
        if response.is_error:
            raise _error(response)
        if not response.content:
            location = response.headers.get("Location", "")
            return {"action": location.rsplit("/", 1)[-1]} if location else {}
        result: Document = response.json()
        return result

    def get(self, path: str, **params: str) -> Document:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Document) -> Document:
        return self.request("POST", path, body)

    def action(self, cluster: str, verb: str, params: Document) -> str:
        """Run one cluster action verb; the id of its action."""
        return str(self.post(f"/v1/clusters/{cluster}/actions", {verb: params})["action"])


def _error(response: httpx.Response) -> ApiError:
    """Senlin's error document (`error.message`), else what the containers client reads."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return ApiError(response.status_code, str(error.get("type", "")), str(error["message"]))
    return ApiError.from_response(response)
