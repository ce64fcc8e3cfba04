"""Telling the control plane what the engine did: retried a few times, then left to a resync."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
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

from dockyard.client.agent import CredentialRefused, HostGone, ReportRefused
from dockyard.schemas.agent import ContainerReport, SandboxReport

log = logging.getLogger(__name__)


class ReportSink(Protocol):
    """The part of AgentClient that takes reports."""

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None: ...


class Reporter:
    """Sends reports; a report that cannot be delivered now is resent by the next full sync.

    One request at a time: reports given while one is under way go together in the next
    (one request, one control-plane transaction for all of them). In a burst of creates,
    a request per report made the control plane run 20 report transactions at once, which
    queued on its one write lock ahead of the scheduler's and the creates' own; batched,
    the burst's later containers were placed and reported seconds sooner.
    """

    def __init__(self, client: ReportSink, attempts: int = 5, backoff: float = 0.5) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff = backoff
        self._turn = asyncio.Lock()  # held by the one request under way
        self._queued: list[_Queued] = []

    async def send(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> bool:
        """Report; False when the control plane could not be told (it will be, on resync)."""
        mine = _Queued(reports, sandboxes or [], asyncio.get_running_loop().create_future())
        self._queued.append(mine)
        async with self._turn:
            if not mine.told.done():  # not taken along by an earlier request
                taken, self._queued = self._queued, []
                try:
                    await self._deliver(taken)
                finally:  # cancelled: whoever comes next sends what this one had taken
                    self._queued[:0] = [q for q in taken if q is not mine and not q.told.done()]
        return mine.told.result()

    async def _deliver(self, taken: list[_Queued]) -> None:
        """Send what was taken in one request. If the control plane refuses its content,
        each goes alone (one bad report must not keep the others from it)."""
        reports = [r for q in taken for r in q.reports]
        failure = await self._send_once(reports, [s for q in taken for s in q.sandboxes])
        alone = len(taken) > 1 and isinstance(failure, ReportRefused)
        for queued in taken:
            if alone:
                failure = await self._send_once(queued.reports, queued.sandboxes)
            queued.told.set_result(failure is None)

    async def _send_once(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport]
    ) -> BaseException | None:
        """None once the control plane took them; else the last failure (each was logged)."""
        retrying = AsyncRetrying(
            # Exception only: a cancelled task must stop, not retry. A refused identity is the
            # watch's to sort out, refused content is not taken on a retry either; a full
            # sync resends.
            retry=retry_if_exception_type(Exception)
            & retry_if_not_exception_type((HostGone, CredentialRefused, ReportRefused)),
            stop=stop_after_attempt(self.attempts),
            wait=wait_incrementing(start=self.backoff, increment=self.backoff),
            before_sleep=_warn_report_failed,
        )
        try:
            await retrying(self.client.report, reports, sandboxes)
        except ReportRefused as exc:
            log.warning("report refused: %s", exc)
            return exc
        except (HostGone, CredentialRefused) as exc:
            return exc
        except RetryError as exc:
            return exc.last_attempt.exception() or exc
        return None


@dataclass
class _Queued:
    reports: list[ContainerReport]
    sandboxes: list[SandboxReport]
    told: asyncio.Future[bool]  # whether the control plane took them


def _warn_report_failed(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("report failed (%s), attempt %d", exc, state.attempt_number)
