"""The reporter: one request at a time, carrying every report given meanwhile."""

from __future__ import annotations

import asyncio

from dockyard.agent.reports import Reporter
from dockyard.client.agent import ReportRefused
from dockyard.schemas.agent import ContainerReport, SandboxReport
from tests.agent.units import until


def _report(uuid: str) -> ContainerReport:
    return ContainerReport(uuid=uuid, generation=1, status="Running")


class HeldSink:
    """Takes reports; a request waits for `answer` while `hold` is set; a report of "bad"
    makes the whole request refused, as the control plane refuses a body it cannot take."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.answer = asyncio.Event()
        self.hold = True

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None:
        self.requests.append([r.uuid for r in reports])
        if self.hold:
            await self.answer.wait()
        if any(r.uuid == "bad" for r in reports):
            raise ReportRefused("422: not a report")


async def test_reports_given_during_a_request_go_together_in_the_next() -> None:
    sink = HeldSink()
    reporter = Reporter(sink, attempts=1)
    first = asyncio.create_task(reporter.send([_report("a")]))
    await until(lambda: sink.requests, "the first request")
    rest = [asyncio.create_task(reporter.send([_report(u)])) for u in ("b", "c", "d")]
    await asyncio.sleep(0.05)
    assert sink.requests == [["a"]]  # one request at a time
    sink.answer.set()
    assert await first
    assert await asyncio.gather(*rest) == [True, True, True]
    assert sink.requests == [["a"], ["b", "c", "d"]]


async def test_a_refused_report_does_not_keep_the_others_of_its_request_out() -> None:
    sink = HeldSink()
    reporter = Reporter(sink, attempts=3, backoff=0.01)
    first = asyncio.create_task(reporter.send([_report("a")]))
    await until(lambda: sink.requests, "the first request")
    rest = [asyncio.create_task(reporter.send([_report(u)])) for u in ("b", "bad", "c")]
    await asyncio.sleep(0.05)
    sink.hold = False
    sink.answer.set()
    assert await first
    assert await asyncio.gather(*rest) == [True, False, True]
    # refused content is not retried: the batch once, then each alone once
    assert sink.requests == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]


async def test_a_cancelled_request_leaves_what_it_carried_to_the_next_sender() -> None:
    sink = OneByOneSink()
    reporter = Reporter(sink, attempts=1)
    first = asyncio.create_task(reporter.send([_report("a")]))
    await until(lambda: sink.requests, "the first request")
    second = asyncio.create_task(reporter.send([_report("b")]))
    third = asyncio.create_task(reporter.send([_report("c")]))
    await asyncio.sleep(0.05)
    sink.answers[0].set()
    assert await first
    await until(lambda: len(sink.requests) == 2, "the second request, carrying b and c")
    second.cancel()  # the agent stops that convergence mid-request
    await until(lambda: len(sink.requests) == 3, "c sent again by its own sender")
    sink.answers[2].set()
    assert await third
    assert sink.requests == [["a"], ["b", "c"], ["c"]]


class OneByOneSink:
    """Takes reports; request n waits for answers[n]."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.answers = [asyncio.Event() for _ in range(5)]

    async def report(
        self, reports: list[ContainerReport], sandboxes: list[SandboxReport] | None = None
    ) -> None:
        self.requests.append([r.uuid for r in reports])
        await self.answers[len(self.requests) - 1].wait()
