"""Keystone tokens, checked by a service user and cached: keystonemiddleware's job, in async.

Dockyard logs in as its service user (role `service`) and asks Keystone about each user token
it has not seen lately (`GET /v3/auth/tokens`, X-Subject-Token). A validated token is
trusted for `cache_ttl` seconds at most and never past its own expiry; so a revoked token can
go on working for up to `cache_ttl` seconds, the trade-off every Keystone cache makes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from keystoneauth1 import access

from dockyard.client.keystone import KeystoneHttp, Response, Transport
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import IdentityUnavailable, Unauthenticated
from dockyard.settings import AuthSettings, ConfigError

log = logging.getLogger(__name__)

Clock = Callable[[], float]  # wall-clock seconds: token expiries are absolute times
# A service token is renewed this long before it expires, so no request carries a stale one.
SERVICE_TOKEN_MARGIN = 60.0


class TokenCache:
    """Validated tokens, keyed by SHA-256, each until min(now + ttl, the token's expiry)."""

    def __init__(self, ttl: float, clock: Clock, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[float, RequestContext]] = OrderedDict()

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> RequestContext | None:
        """The cached context of token, or None when absent or no longer to be trusted."""
        key = self._key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        until, context = entry
        if self.clock() >= until:
            del self._entries[key]
            return None
        return context

    def put(self, token: str, context: RequestContext, expires_at: float) -> None:
        """Remember token's context until min(now + ttl, expires_at) (not at all if past)."""
        until = min(self.clock() + self.ttl, expires_at)
        if until <= self.clock():
            return
        key = self._key(token)
        self._entries[key] = (until, context)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:  # the oldest entries go first
            self._entries.popitem(last=False)


def identity_url(keystone_url: str) -> str:
    """The v3 API root from a URL given with or without /v3."""
    base = keystone_url.rstrip("/")
    return base if base.endswith("/v3") else f"{base}/v3"


def _check_settings(settings: AuthSettings) -> None:
    missing = [
        f"DOCKYARD_AUTH__{name.upper()}"
        for name in ("keystone_url", "service_username", "service_password")
        if not getattr(settings, name)
    ]
    if missing:
        raise ConfigError(f"the keystone backend needs {', '.join(missing)}")


class KeystoneAuthenticator:
    """Validates X-Auth-Token with Keystone; one instance per API process."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        clock: Clock = time.time,
        transport: Transport | None = None,
    ) -> None:
        _check_settings(settings)
        if not settings.keystone_url or not settings.service_password:  # _check_settings
            raise ConfigError("the keystone backend needs keystone_url and service_password")
        self.settings = settings
        self.url = identity_url(settings.keystone_url)
        self.www_authenticate = f'Keystone uri="{self.url.removesuffix("/v3")}"'
        self.clock = clock
        self.cache = TokenCache(settings.cache_ttl, clock)
        self._http = KeystoneHttp(self.url, settings.keystone_timeout, transport)
        self._service: tuple[str, float] | None = None  # (token, expires at)
        self._service_lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.close()

    async def authenticate(self, token: str | None) -> RequestContext:
        """The context of a valid project-scoped token; Unauthenticated otherwise."""
        if not token:
            raise Unauthenticated("Authentication required: send a Keystone token in X-Auth-Token.")
        cached = self.cache.get(token)
        if cached is not None:
            return cached
        body = await self._validate(token)
        context, expires_at = self._context_of(body)
        self.cache.put(token, context, expires_at)
        return context

    def _context_of(self, body: dict[str, Any]) -> tuple[RequestContext, float]:
        info = access.create(body=body)
        expires = _expiry(info)
        if expires <= self.clock():
            raise Unauthenticated("The token has expired.")
        if not info.project_scoped or not info.project_id or not info.user_id:
            raise Unauthenticated("A project-scoped token is required.")
        roles = frozenset(role.lower() for role in info.role_names or ())
        log.debug("token of user %s in project %s validated", info.user_id, info.project_id)
        context = RequestContext(project_id=info.project_id, user_id=info.user_id, roles=roles)
        return context, expires

    async def _validate(self, token: str) -> dict[str, Any]:
        """Keystone's token document; a rejected service token is renewed and tried once more."""
        for renew in (False, True):
            service_token = await self._service_token(renew=renew)
            headers = {"X-Auth-Token": service_token, "X-Subject-Token": token}
            response = await self._send("GET", "/auth/tokens?nocatalog", headers=headers)
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            if response.status_code == 404:
                raise Unauthenticated("The token is not valid (unknown, expired or revoked).")
            if response.status_code == 403:
                log.error("Keystone: service user may not validate tokens (no `service` role?)")
                raise IdentityUnavailable()
            if response.status_code != 401:
                log.error("Keystone answered %d to a token validation", response.status_code)
                raise IdentityUnavailable()
        log.error("Keystone keeps rejecting the service user's own token")
        raise IdentityUnavailable()

    async def _service_token(self, *, renew: bool) -> str:
        async with self._service_lock:  # one login at a time, even under a burst
            if renew or self._service is None or self._service[1] <= self.clock():
                self._service = await self._login()
            return self._service[0]

    async def _login(self) -> tuple[str, float]:
        settings = self.settings
        if settings.service_password is None:  # checked in __init__
            raise ConfigError("the keystone backend needs service_password")
        user = {
            "name": settings.service_username,
            "domain": {"name": settings.service_user_domain_name},
            "password": settings.service_password.get_secret_value(),
        }
        project = {
            "name": settings.service_project,
            "domain": {"name": settings.service_project_domain_name},
        }
        identity = {"methods": ["password"], "password": {"user": user}}
        body = {"auth": {"identity": identity, "scope": {"project": project}}}
        response = await self._send("POST", "/auth/tokens?nocatalog", json=body)
        if response.status_code != 201:
            log.error(
                "Keystone refused the service user %s (HTTP %d): check its credentials",
                settings.service_username,
                response.status_code,
            )
            raise IdentityUnavailable()
        expires = _expiry(access.create(body=response.json()))
        return response.headers["X-Subject-Token"], expires - SERVICE_TOKEN_MARGIN

    async def _send(self, method: str, path: str, **kwargs: Any) -> Response:
        return await self._http.send(method, path, **kwargs)


def _expiry(info: access.AccessInfo) -> float:
    """The token's expiry in epoch seconds; a token without one is not trusted."""
    if info.expires is None:
        raise Unauthenticated("The token has no expiry.")
    return info.expires.timestamp()
