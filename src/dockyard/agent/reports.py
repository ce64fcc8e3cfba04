"""Telling the control plane what the engine did: retried a few times, then left to a resync."""

from __future__ import annotations

import logging
from typing import Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_incrementing,
)

from dockyard.client.agent import CredentialRefused, HostGone
from dockyard.schemas.agent import ContainerReport, SandboxReport

log = logging.getLogger(__name__)


class ReportSink(Protocol):
    """The part of AgentClient that takes reports."""

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None: ...


class Reporter:
    """Sends reports; a report that cannot be delivered now is resent by the next full sync."""

    def __init__(self, client: ReportSink, attempts: int = 5, backoff: float = 0.5) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff = backoff

    async def send(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> bool:
        """Report; False when the control plane could not be told (it will be, on resync)."""
        retrying = AsyncRetrying(
            # Exception only: a cancelled task must stop, not retry. A refused identity is the
            # watch's to sort out; a full sync resends.
            retry=retry_if_exception_type(Exception)
            & retry_if_not_exception_type((HostGone, CredentialRefused)),
            stop=stop_after_attempt(self.attempts),
            wait=wait_incrementing(start=self.backoff, increment=self.backoff),
            before_sleep=_warn_report_failed,
        )
        try:
            await retrying(self.client.report, reports, sandboxes or [])
        except (HostGone, CredentialRefused, RetryError):
            return False  # each failure was logged; a full sync resends
        return True


def _warn_report_failed(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("report failed (%s), attempt %d", exc, state.attempt_number)
