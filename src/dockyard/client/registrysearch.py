"""Image search in registries: a project's private ones (Distribution v2 catalog and tag
lists) and Docker Hub (its search API), each bounded in time.

The control plane searches, not a host: it holds the registry records and their sealed
passwords (which then never travel to an agent for a search), a search is a project's
question rather than a host's, and the engine could not help anyway — its search speaks
only Docker Hub's v1 search, which a Distribution v2 registry does not serve.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from dockyard.errors import RegistryRefused, RegistryUnreachable
from dockyard.settings import RegistrySettings

HUB_DOMAINS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
CATALOG_PAGE = 1000  # repositories asked for per catalog page
CATALOG_PAGES = 10  # pages read at most: a search is a look-up, not a crawl
TAGGED_AT_MOST = 50  # matching repositories whose tags are listed


@dataclass(frozen=True)
class Source:
    """A registry to search, with the project's login for it (None: anonymous)."""

    domain: str
    username: str | None = None
    password: str | None = None

    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password or "") if self.username else None


def entry(name: str, tags: Sequence[str], **metadata: Any) -> dict[str, Any]:
    """One search result in Zun's shape: the docker driver's name, description and
    metadata, with the columns the clients print (ID, Tags, Status, Size) beside them."""
    return {
        "id": None, "name": name, "tags": list(tags), "status": None, "size": None,
        "description": metadata.pop("description", None),
        "metadata": {"is_official": False, "star_count": 0, **metadata},
    }  # fmt: skip


def is_loopback(domain: str) -> bool:
    host = domain.rsplit(":", 1)[0] if domain.count(":") == 1 else domain
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class RegistrySearch:
    def __init__(
        self, settings: RegistrySettings, transport: httpx.AsyncBaseTransport | None = None
    ):
        self.settings = settings
        self.transport = transport

    async def registry(self, source: Source, path: str, exact: bool) -> list[dict[str, Any]]:
        """Repositories of source whose name contains path (equals it, if exact), with
        their tags; RegistryUnreachable/RegistryRefused say why a registry gave no answer."""
        try:
            async with asyncio.timeout(self.settings.search_timeout):
                return await self._registry(source, path, exact)
        except TimeoutError:
            reason = f"no answer within {self.settings.search_timeout:g} s"
            raise RegistryUnreachable(registry=source.domain, reason=reason) from None

    async def _registry(self, source: Source, path: str, exact: bool) -> list[dict[str, Any]]:
        async with self._client(source) as client:
            base = await self._base(client, source.domain)
            names = await _catalog(client, base, source.domain)
            found = [n for n in names if (n == path if exact else path in n)]
            results = []
            for name in found[:TAGGED_AT_MOST]:
                body = await _get(client, f"{base}/v2/{quote(name)}/tags/list", source.domain)
                tags = sorted(body.get("tags") or [])
                results.append(entry(f"{source.domain}/{name}", tags, registry=source.domain))
            return results

    def _client(self, source: Source) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            auth=source.auth(), timeout=self.settings.search_timeout, transport=self.transport
        )

    async def _base(self, client: httpx.AsyncClient, domain: str) -> str:
        """https://domain, or http://domain for a loopback or listed insecure registry whose
        HTTPS fails (the engine's rule): a login never goes out in clear elsewhere."""
        try:
            await client.get(f"https://{domain}/v2/")
            return f"https://{domain}"
        except httpx.TransportError as exc:
            if not (is_loopback(domain) or domain in self.settings.insecure_registries):
                raise RegistryUnreachable(registry=domain, reason=_said(exc)) from None
        try:
            await client.get(f"http://{domain}/v2/")
        except httpx.TransportError as exc:
            raise RegistryUnreachable(registry=domain, reason=_said(exc)) from None
        return f"http://{domain}"

    async def hub(self, term: str, exact: bool) -> list[dict[str, Any]]:
        """Docker Hub's search for term, within the search timeout (Hub may be out of reach:
        then a clear RegistryUnreachable, never a hang)."""
        url = self.settings.hub_search_url
        try:
            async with asyncio.timeout(self.settings.search_timeout):
                async with httpx.AsyncClient(transport=self.transport) as client:
                    body = await _get(client, url, "Docker Hub", params={"q": term, "n": "25"})
        except TimeoutError:
            reason = f"no answer within {self.settings.search_timeout:g} s"
            raise RegistryUnreachable(registry=f"Docker Hub ({url})", reason=reason) from None
        found = [r for r in body.get("results") or [] if isinstance(r, dict) and r.get("name")]
        if exact:
            found = [r for r in found if r["name"] in (term, f"library/{term}")]
        return [_hub_entry(r) for r in found]


def _hub_entry(result: dict[str, Any]) -> dict[str, Any]:
    return entry(
        str(result["name"]), [], description=result.get("description"),
        is_official=bool(result.get("is_official")), star_count=int(result.get("star_count") or 0),
        registry="docker.io",
    )  # fmt: skip


async def _catalog(client: httpx.AsyncClient, base: str, domain: str) -> list[str]:
    """The registry's repository names, following its pagination a bounded number of pages."""
    names: list[str] = []
    url: str | None = f"{base}/v2/_catalog?n={CATALOG_PAGE}"
    for _ in range(CATALOG_PAGES):
        if url is None:
            break
        response = await _answer(client, url, domain)
        names += [str(n) for n in _json(response, domain).get("repositories") or []]
        following = response.links.get("next", {}).get("url")
        url = str(httpx.URL(base).join(following)) if following else None
    return names


async def _get(
    client: httpx.AsyncClient, url: str, registry: str, params: dict[str, str] | None = None
) -> dict[str, Any]:
    return _json(await _answer(client, url, registry, params), registry)


def _json(response: httpx.Response, registry: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise RegistryRefused(registry=registry, reason="its answer is not JSON") from None
    return body if isinstance(body, dict) else {}


async def _answer(
    client: httpx.AsyncClient, url: str, registry: str, params: dict[str, str] | None = None
) -> httpx.Response:
    try:
        response = await client.get(url, params=params)
    except httpx.TransportError as exc:
        raise RegistryUnreachable(registry=registry, reason=_said(exc)) from None
    if response.status_code in (401, 403):
        reason = f"HTTP {response.status_code}: the project's registry record has no valid login"
        raise RegistryRefused(registry=registry, reason=reason)
    if response.status_code >= 400:
        raise RegistryRefused(registry=registry, reason=f"HTTP {response.status_code}")
    return response


def _said(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
