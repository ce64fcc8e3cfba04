"""Joining the control plane once, and being the same host ever after.

The first start exchanges the join token for a host credential and stores it; every later
start presents the stored credential (same host uuid, so its containers are still its own).
"""

from __future__ import annotations

import logging

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_fixed

from dockyard.agent.identity import HostIdentity, IdentityStore
from dockyard.client.agent import (
    RETRYABLE,
    AgentClient,
    CredentialRefused,
    HostGone,
    JoinRefused,
)
from dockyard.schemas.agent import HostRegistration

log = logging.getLogger(__name__)


class HostRemoved(Exception):
    """This host's identity is no longer accepted and it may not join again by itself."""


class Membership:
    def __init__(
        self,
        client: AgentClient,
        store: IdentityStore,
        join_token: str | None,
        *,
        rejoin: bool = False,
    ) -> None:
        self.client = client
        self.store = store
        self._join_token = join_token
        # `serve` owns its join token, so its agent may join again as a new host when its
        # identity is gone (a wiped database); a separate agent must not undo a removal.
        self._rejoin = rejoin

    async def register(self, registration: HostRegistration) -> str:
        """The host's uuid once the control plane knows this host; retries while none answers.

        Raises JoinRefused (bad token, name taken) and HostRemoved: both need an operator.
        """

        def warn(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("registration of %s failed (%s); retrying", registration.hostname, exc)

        # Without end: an agent started before its control plane waits for it.
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RETRYABLE), wait=wait_fixed(1.0), before_sleep=warn
        )
        uuid: str = await retrying(self._register_once, registration)
        return uuid

    async def _register_once(self, registration: HostRegistration) -> str:
        identity = self.store.load()
        if identity is not None:
            self._use(identity)
            try:
                await self.client.refresh(registration)
                return identity.uuid
            except (CredentialRefused, HostGone) as exc:
                if not self._rejoin:
                    raise HostRemoved(self._removed_text()) from exc
                log.warning("host %s is unknown to the control plane; joining anew", identity.uuid)
                self.store.clear()
        if not self._join_token:
            raise HostRemoved(f"no identity in {self.store.path} and no join token to get one")
        registered = await self.client.join(registration, self._join_token)
        if registered.credential is None:  # the join answer always carries one
            raise JoinRefused("the control plane joined this host without a credential")
        identity = HostIdentity(registered.uuid, registered.credential)
        self.store.save(identity)
        self._use(identity)
        log.info("joined as host %s (%s)", registration.hostname, registered.uuid)
        return registered.uuid

    def reload(self) -> bool:
        """Take a credential rotated meanwhile (`dockyard agent --rotate-credential`)."""
        identity = self.store.load()
        if identity is None or identity.credential == self.client.credential:
            return False
        self._use(identity)
        return True

    def may_rejoin(self) -> bool:
        if self._rejoin:
            self.store.clear()
        return self._rejoin

    def removed(self) -> HostRemoved:
        return HostRemoved(self._removed_text())

    def _use(self, identity: HostIdentity) -> None:
        self.client.uuid, self.client.credential = identity.uuid, identity.credential

    def _removed_text(self) -> str:
        return (
            f"the control plane refuses this host's credential (host removed, or credential "
            f"revoked); to join as a new host, delete {self.store.path}"
        )


async def rotate(client: AgentClient, store: IdentityStore) -> str:
    """Rotate the stored host's credential and store the new one; returns the host uuid."""
    identity = store.load()
    if identity is None:
        raise HostRemoved(f"no host identity in {store.path}")
    client.uuid, client.credential = identity.uuid, identity.credential
    credential = await client.rotate()
    # Saved at once: between the rotation and this write the agent holds the only copy.
    store.save(HostIdentity(identity.uuid, credential))
    return identity.uuid
