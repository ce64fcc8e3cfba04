"""The Keystone backend against a real Keystone, with a fake clock to move through time.

Keystone is never faked here: the transport only counts the requests that go to it, so the
tests can tell a cached answer from a fresh validation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from pydantic import SecretStr

from dockyard.api.auth.keystone import KeystoneAuthenticator, TokenCache
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import IdentityUnavailable, Unauthenticated
from dockyard.settings import AuthSettings, ConfigError
from tests.support.keystone import Realm, User
from tests.support.server import free_port

TTL = 300.0
CTX = RequestContext(project_id="p", user_id="u")


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class CountingTransport(httpx.AsyncBaseTransport):
    """The real network transport, counting what goes through it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.logins = 0
        self.validations = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.logins += 1
        else:
            self.validations += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def settings_for(realm: Realm, service: User | None = None, **over: object) -> AuthSettings:
    service = service or realm.service
    values: dict[str, object] = {
        "backend": "keystone",
        "keystone_url": realm.keystone.url,
        "service_username": service.name,
        "service_password": SecretStr(service.password),
        "service_project": service.project,
        "cache_ttl": TTL,
        **over,
    }
    return AuthSettings.model_validate(values)


# --- the cache alone -----------------------------------------------------------------------


def test_cache_keeps_an_entry_for_the_ttl() -> None:
    clock = FakeClock()
    cache = TokenCache(ttl=10, clock=clock)
    cache.put("t", CTX, expires_at=clock.now + 3600)
    clock.now += 9.9
    assert cache.get("t") == CTX
    clock.now += 0.1
    assert cache.get("t") is None


def test_cache_never_keeps_an_entry_past_the_tokens_expiry() -> None:
    clock = FakeClock()
    cache = TokenCache(ttl=3600, clock=clock)
    cache.put("t", CTX, expires_at=clock.now + 5)
    clock.now += 4.9
    assert cache.get("t") == CTX
    clock.now += 0.1
    assert cache.get("t") is None
    cache.put("old", CTX, expires_at=clock.now - 1)
    assert cache.get("old") is None


def test_cache_with_zero_ttl_keeps_nothing_and_a_full_cache_drops_the_oldest() -> None:
    clock = FakeClock()
    off = TokenCache(ttl=0, clock=clock)
    off.put("t", CTX, expires_at=clock.now + 60)
    assert off.get("t") is None
    small = TokenCache(ttl=60, clock=clock, max_entries=2)
    for token in ("a", "b", "c"):
        small.put(token, CTX, expires_at=clock.now + 60)
    assert [small.get(t) for t in ("a", "b", "c")] == [None, CTX, CTX]


# --- against the real Keystone -------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
async def auth(
    realm: Realm, clock: FakeClock, transport: CountingTransport
) -> AsyncIterator[KeystoneAuthenticator]:
    authenticator = KeystoneAuthenticator(settings_for(realm), clock=clock, transport=transport)
    yield authenticator
    await authenticator.close()


async def test_a_member_token_gives_its_project_user_and_roles(
    auth: KeystoneAuthenticator, realm: Realm
) -> None:
    ctx = await auth.authenticate(realm.keystone.token(realm.alpha))
    assert (ctx.project_id, ctx.user_id) == (realm.alpha.project_id, realm.alpha.user_id)
    assert {"member", "reader"} <= ctx.roles  # implied roles included
    assert not ctx.is_admin
    admin = await auth.authenticate(realm.keystone.token(realm.admin))
    assert admin.is_admin
    assert admin.project_id == realm.admin.project_id


async def test_answers_are_cached_for_the_ttl_and_the_service_token_reused(
    auth: KeystoneAuthenticator, realm: Realm, clock: FakeClock, transport: CountingTransport
) -> None:
    alpha, beta = realm.keystone.token(realm.alpha), realm.keystone.token(realm.beta)
    for _ in range(3):
        await auth.authenticate(alpha)
        await auth.authenticate(beta)
    assert (transport.logins, transport.validations) == (1, 2)
    clock.now += TTL + 1
    await auth.authenticate(alpha)
    assert (transport.logins, transport.validations) == (1, 3)


async def test_a_token_is_not_trusted_past_its_expiry_however_long_the_ttl(
    realm: Realm, clock: FakeClock, transport: CountingTransport
) -> None:
    settings = settings_for(realm, cache_ttl=86400.0)
    auth = KeystoneAuthenticator(settings, clock=clock, transport=transport)
    token, body = realm.keystone.login(realm.alpha)
    expiry = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")).timestamp()
    try:
        await auth.authenticate(token)
        clock.now = expiry - 1
        await auth.authenticate(token)
        assert transport.validations == 1  # still cached just before the expiry
        clock.now = expiry + 1
        with pytest.raises(Unauthenticated, match="expired"):
            await auth.authenticate(token)
        assert transport.validations == 2  # asked again, and refused although Keystone said 200
    finally:
        await auth.close()


async def test_a_revoked_token_is_refused_once_its_cache_entry_ends(
    auth: KeystoneAuthenticator, realm: Realm, clock: FakeClock
) -> None:
    token = realm.keystone.token(realm.beta)
    await auth.authenticate(token)
    realm.keystone.revoke(token)
    await auth.authenticate(token)  # the documented window: cached for up to cache_ttl
    clock.now += TTL + 1
    with pytest.raises(Unauthenticated, match="not valid"):
        await auth.authenticate(token)


@pytest.mark.parametrize("token", [None, "", "gAAAAABnot-a-token"])
async def test_a_missing_or_bad_token_is_unauthenticated(
    auth: KeystoneAuthenticator, token: str | None
) -> None:
    with pytest.raises(Unauthenticated):
        await auth.authenticate(token)


async def test_a_renewed_service_token_is_fetched_when_the_old_one_expires(
    auth: KeystoneAuthenticator, realm: Realm, clock: FakeClock, transport: CountingTransport
) -> None:
    await auth.authenticate(realm.keystone.token(realm.alpha))
    # Keystone's tokens live an hour; the service token is renewed a minute before it ends.
    clock.now += 3600 - 30
    await auth.authenticate(realm.keystone.token(realm.beta))
    assert transport.logins == 2


async def test_bad_service_credentials_make_keystone_unavailable(realm: Realm) -> None:
    settings = settings_for(realm, service_password=SecretStr("wrong"))
    auth = KeystoneAuthenticator(settings)
    try:
        with pytest.raises(IdentityUnavailable):
            await auth.authenticate(realm.keystone.token(realm.alpha))
    finally:
        await auth.close()


async def test_a_service_user_without_the_service_role_cannot_validate(realm: Realm) -> None:
    auth = KeystoneAuthenticator(settings_for(realm, service=realm.beta))
    try:
        with pytest.raises(IdentityUnavailable):
            await auth.authenticate(realm.keystone.token(realm.alpha))
    finally:
        await auth.close()


async def test_an_unreachable_keystone_is_unavailable_not_unauthenticated(realm: Realm) -> None:
    settings = settings_for(realm, keystone_url=f"http://127.0.0.1:{free_port()}")
    auth = KeystoneAuthenticator(settings)
    try:
        with pytest.raises(IdentityUnavailable):
            await auth.authenticate("any-token")
    finally:
        await auth.close()


def test_keystone_backend_names_the_settings_it_lacks() -> None:
    with pytest.raises(ConfigError) as raised:
        KeystoneAuthenticator(AuthSettings(backend="keystone", keystone_url="http://k:5000"))
    assert "DOCKYARD_AUTH__SERVICE_USERNAME" in str(raised.value)
    assert "DOCKYARD_AUTH__SERVICE_PASSWORD" in str(raised.value)
    assert "KEYSTONE_URL" not in str(raised.value)
