"""Who is calling: the auth backends (noauth, keystone, tokens) behind one small interface."""

from __future__ import annotations

from typing import Protocol

from dockyard.domain.tenancy import RequestContext
from dockyard.settings import AuthSettings, ConfigError


class Authenticator(Protocol):
    """Turns the X-Auth-Token of a request into the caller's context, or raises.

    Raises Unauthenticated (401) for a missing or bad token and IdentityUnavailable (503)
    when the token cannot be checked now. The context's request_id is left empty.
    """

    www_authenticate: str

    async def authenticate(self, token: str | None) -> RequestContext: ...

    async def close(self) -> None: ...


class NoAuth:
    """Every request is the admin of the one default project, whatever it sends."""

    www_authenticate = 'Keystone uri="unset"'

    def __init__(self, settings: AuthSettings) -> None:
        self._context = RequestContext(
            project_id=settings.default_project_id,
            user_id=settings.default_user_id,
            roles=frozenset({"admin", "member", "reader"}),
        )

    async def authenticate(self, token: str | None) -> RequestContext:
        return self._context

    async def close(self) -> None:
        return None


def create_authenticator(settings: AuthSettings) -> Authenticator:
    """The backend settings.backend names; ConfigError if its settings are unusable."""
    if settings.backend == "keystone":
        from dockyard.api.auth.keystone import KeystoneAuthenticator

        return KeystoneAuthenticator(settings)
    if settings.backend == "tokens":
        from dockyard.api.auth.tokens import StaticTokens

        if settings.tokens_file is None:
            raise ConfigError("the tokens backend needs DOCKYARD_AUTH__TOKENS_FILE")
        return StaticTokens.from_file(settings.tokens_file)
    if settings.backend == "noauth":
        return NoAuth(settings)
    raise ConfigError(f"unknown auth backend {settings.backend!r}: use noauth, keystone or tokens")
