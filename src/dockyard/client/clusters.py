"""Typed httpx client of the clustering API (Senlin v1 at /cluster), for `dockyard cluster`."""

from __future__ import annotations

import httpx

from dockyard.client.openstackapi import Document, OpenStackApiClient, root_of


def cluster_endpoint(base_url: str) -> str:
    """The clustering API root: Dockyard's URL (with or without /v1) plus /cluster."""
    url = root_of(base_url)
    return url if url.endswith("/cluster") else f"{url}/cluster"


class ClustersClient(OpenStackApiClient):
    fault_key = "error"

    def __init__(self, base_url: str, token: str | None = None) -> None:
        super().__init__(cluster_endpoint(base_url), "clustering 1.14", token)

    def empty_answer(self, response: httpx.Response) -> Document:
        """A 202 without a body: the action its Location names."""
        location = response.headers.get("Location", "")
        return {"action": location.rsplit("/", 1)[-1]} if location else {}

    def get(self, path: str, **params: str) -> Document:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Document) -> Document:
        return self.request("POST", path, body)

    def action(self, cluster: str, verb: str, params: Document) -> str:
        """Run one cluster action verb; the id of its action."""
        return str(self.post(f"/v1/clusters/{cluster}/actions", {verb: params})["action"])
