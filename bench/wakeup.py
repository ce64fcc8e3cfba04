"""Cross-replica wake-up: two `dockyard api` replicas on one PostgreSQL, against one.

    python -m bench.wakeup [--runs 200]

(a) create → long-poll: an agent-style long-poll (`GET /agent/v1/hosts/{uuid}/assignments
    ?wait=`) is held on replica 1; a container is created on replica 2; measured from the
    create's 202 (and from sending it) to the long-poll's answer.
(b) report → wait_status: `GET /v1/containers/{uuid}?wait_status=Running` is held on replica
    2; an agent report (`POST …/reports`) goes to replica 1; measured from its 204 (and from
    sending it) to the wait_status answer.
Both again with one replica in both roles (the in-process wake-up), for comparison. The host
is a hollow one registered over the agent API; no engine is involved. A wake-up may beat
the 202 to the client, so "from the 202" can be negative.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

import httpx
from tests.support.database import fresh_postgres
from tests.support.parts import JOIN_TOKEN, ApiPart
from tests.support.server import V140

PARK = 0.05  # seconds the held request gets to reach its wait before the change is made
WAIT = 30  # seconds a held request may wait; a missed wake-up shows as ≈ this
ENV = {
    "DOCKYARD_QUOTA__CONTAINERS": "-1", "DOCKYARD_QUOTA__CPU": "-1",
    "DOCKYARD_QUOTA__MEMORY": "-1", "DOCKYARD_SCHEDULER__HOST_DOWN_AFTER": "86400",
    "DOCKYARD_CONTAINERS__SANDBOX_MODE": "standalone",
}  # fmt: skip


async def _timed(request: Awaitable[httpx.Response]) -> tuple[httpx.Response, float]:
    response = await request
    return response, time.perf_counter()


class Host:
    """A hollow host registered on the control plane; its revision follows its long-polls."""

    def __init__(self, agent: httpx.AsyncClient, uuid: str, revision: int) -> None:
        self.agent, self.uuid, self.revision = agent, uuid, revision

    @classmethod
    async def join(cls, agent: httpx.AsyncClient) -> tuple[Host, str]:
        """Join with the join token; the host and its credential."""
        body = {
            "hostname": f"bench-{secrets.token_hex(4)}", "agent_url": "http://127.0.0.1:1",
            "agent_token": secrets.token_hex(16), "cpus": 100000, "mem_total": 10**9,
            "disk_total": 10**6,
        }  # fmt: skip
        joining = {"Authorization": f"Bearer {JOIN_TOKEN}"}
        response = await agent.post("/agent/v1/hosts", json=body, headers=joining)
        registered = response.json()
        assert response.status_code == 200, registered
        return cls(agent, registered["uuid"], registered["revision"]), registered["credential"]


async def create_to_long_poll(
    poller: httpx.AsyncClient, creator: httpx.AsyncClient, host: Host, name: str
) -> tuple[float, float, str]:
    """Seconds from the 202 and from sending the create to the long-poll's answer; uuid."""
    url = f"/agent/v1/hosts/{host.uuid}/assignments"
    poll = asyncio.create_task(
        _timed(poller.get(url, params={"since": host.revision, "wait": WAIT}))
    )
    await asyncio.sleep(PARK)
    sent = time.perf_counter()
    created = await creator.post("/v1/containers?run=true", json={"name": name, "image": "busybox"})
    accepted = time.perf_counter()
    assert created.status_code == 202, created.text
    response, answered = await poll
    batch = response.json()
    host.revision = batch["revision"]
    assert batch["containers"], "the long-poll timed out instead of waking"
    return answered - accepted, answered - sent, created.json()["uuid"]


async def report_to_wait_status(
    reporter: httpx.AsyncClient, waiter: httpx.AsyncClient, host: Host, uuid: str
) -> tuple[float, float]:
    """Seconds from the report's 204 and from sending it to the wait_status answer."""
    params: dict[str, str | float] = {"wait_status": "Running", "wait_timeout": WAIT}
    wait = asyncio.create_task(_timed(waiter.get(f"/v1/containers/{uuid}", params=params)))
    await asyncio.sleep(PARK)
    report = {"reports": [{"uuid": uuid, "generation": 1, "status": "Running"}]}
    sent = time.perf_counter()
    reported = await reporter.post(f"/agent/v1/hosts/{host.uuid}/reports", json=report)
    done = time.perf_counter()
    assert reported.status_code == 204, reported.text
    response, answered = await wait
    assert response.json()["status"] == "Running", "wait_status timed out instead of waking"
    return answered - done, answered - sent


async def measure(one: ApiPart, two: ApiPart, runs: int, tag: str) -> None:
    async with (
        httpx.AsyncClient(base_url=one.url, headers=V140, timeout=60) as first,
        httpx.AsyncClient(base_url=two.url, headers=V140, timeout=60) as second,
    ):
        host, credential = await Host.join(first)
        for client in (first, second):  # the API runs without auth: only agent calls read it
            client.headers["Authorization"] = f"Bearer {credential}"
        created, wakes, sends = [], [], []
        for i in range(runs):
            wake, since_send, uuid = await create_to_long_poll(first, second, host, f"{tag}-{i}")
            created.append(uuid)
            wakes.append(wake)
            sends.append(since_send)
        _print(f"{tag}: create 202 → long-poll", wakes, sends)
        wakes, sends = [], []
        for uuid in created:
            wake, since_send = await report_to_wait_status(first, second, host, uuid)
            wakes.append(wake)
            sends.append(since_send)
        _print(f"{tag}: report 204 → wait_status", wakes, sends)


def _print(what: str, wakes: list[float], sends: list[float]) -> None:
    def pct(values: list[float]) -> str:
        q = statistics.quantiles(values, n=100, method="inclusive")
        return f"p50 {q[49] * 1000:7.2f} ms  p95 {q[94] * 1000:7.2f} ms  p99 {q[98] * 1000:7.2f} ms"

    print(f"{what:<44} from the reply: {pct(wakes)}")
    print(f"{'':<44} from sending:   {pct(sends)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_postgres() as url:
        one, two = (ApiPart(Path(tmp) / name, url, **ENV) for name in ("one", "two"))
        try:
            for replica in (one, two):
                replica.spawn()
            for replica in (one, two):
                replica.wait_ready()
            print(f"{args.runs} runs each; PostgreSQL; two replicas, then one replica")
            asyncio.run(measure(one, two, args.runs, "cross-replica"))
            asyncio.run(measure(one, one, args.runs, "in-process"))
        finally:
            for replica in (one, two):
                replica.stop()


if __name__ == "__main__":
    main()
