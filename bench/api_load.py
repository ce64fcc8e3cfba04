"""Open-loop load on the API at fixed rates: latency percentiles and the saturation point.

    python -m bench.api_load [--profile reads|mixed] [--rates 50 100 200 300] [--seconds 10]
                             [--runtime fake|docker]

Requests are sent on a fixed schedule (rate r: one every 1/r s) whatever the server does, and
each latency is measured from its scheduled send time, so a stall shows as latency instead of
silently lowering the offered load (no coordinated omission).
  reads  half `GET /v1/containers?limit=20`, half `GET /v1/containers/{uuid}`
  mixed  half list, a quarter show, an eighth create (?run=true), an eighth delete (force)
The server is one `dockyard serve` (SQLite, the embedded default); its agent drives the fake
runtime by default, so the engine's CPU does not hide the control plane's. The generator is
bench/rawhttp.py (pre-encoded requests on 64 keep-alive connections), not httpx, whose CPU
per request rivals the server's; each rate also prints the CPU time the server and the
generator spent per request, which does not depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections import deque
from pathlib import Path

from tests.support.server import V140, DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, ensure_test_image

from bench import neutral
from bench.rawhttp import RawClient, Reply

SEED_CONTAINERS = 40
BAR_P99 = 0.100  # seconds: the bar for reads at 200 req/s


class Load:
    """One profile's request mix against one server."""

    def __init__(self, api: RawClient, image: str, uuids: list[str]) -> None:
        self.api, self.image = api, image
        self.uuids = uuids
        self.created: deque[str] = deque()
        self.names = itertools.count()

    async def list(self) -> Reply:
        return await self.api.request("GET", "/v1/containers?limit=20")

    async def show(self, i: int) -> Reply:
        return await self.api.request("GET", f"/v1/containers/{self.uuids[i % len(self.uuids)]}")

    async def create(self) -> Reply:
        body = {"name": f"load-{next(self.names)}", "image": self.image, "command": SLEEP_FOREVER}
        response = await self.api.request("POST", "/v1/containers?run=true", body)
        if response.status == 202:
            self.created.append(str(response.json()["uuid"]))
        return response

    async def delete(self) -> Reply | None:
        if not self.created:
            return None
        uuid = self.created.popleft()
        return await self.api.request("DELETE", f"/v1/containers/{uuid}?force=true")

    async def request(self, profile: str, i: int) -> tuple[str, Reply | None]:
        if profile == "reads":
            return ("list", await self.list()) if i % 2 == 0 else ("show", await self.show(i))
        slot = i % 8
        if slot in (0, 2, 4, 6):
            return "list", await self.list()
        if slot in (1, 5):
            return "show", await self.show(i)
        return ("create", await self.create()) if slot == 3 else ("delete", await self.delete())


async def run_rate(load: Load, profile: str, rate: float, seconds: float) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    start = time.perf_counter() + 0.05
    tasks = []

    async def one(i: int, due: float) -> None:
        kind, response = await load.request(profile, i)
        done = time.perf_counter()
        if response is not None and response.status >= 400:
            errors.append(f"{kind} {response.status}")
        latencies.setdefault(kind, []).append(done - due)

    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies["_achieved"] = [sum(len(v) for k, v in latencies.items()) / elapsed]
    if errors:
        latencies["_errors"] = [float(len(errors))]
        print(f"  errors at {rate}/s: {sorted(set(errors))[:5]} ({len(errors)} in all)")
    return latencies


def line(rate: float, kind: str, values: list[float]) -> str:
    p = [neutral.percentile(values, q) * 1000 for q in (50, 95, 99)]
    return (
        f"rate {rate:6.0f}/s  {kind:<7} n={len(values):<5} p50={p[0]:7.1f} ms  "
        f"p95={p[1]:7.1f} ms  p99={p[2]:7.1f} ms  max={max(values) * 1000:7.1f} ms"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(server: DockyardProcess, image: str, args: argparse.Namespace) -> None:
    assert server.process is not None
    api = RawClient(server.url, V140, connections=64)
    try:
        seeded = [
            await api.request("POST", "/v1/containers?run=true", {"name": f"seed-{i}",
                              "image": image, "command": SLEEP_FOREVER})
            for i in range(SEED_CONTAINERS)
        ]  # fmt: skip
        load = Load(api, image, [str(r.json()["uuid"]) for r in seeded])
        saturated_at = None
        for rate in args.rates:
            await asyncio.sleep(2)  # let the previous step's stragglers and the agent settle
            cpu_before = cpu_seconds(server.process.pid), cpu_seconds(os.getpid())
            result = await run_rate(load, args.profile, rate, args.seconds)
            cpu_after = cpu_seconds(server.process.pid), cpu_seconds(os.getpid())
            achieved = result.pop("_achieved")[0]
            result.pop("_errors", None)
            every = [v for values in result.values() for v in values]
            server_ms = (cpu_after[0] - cpu_before[0]) / len(every) * 1000
            generator_ms = (cpu_after[1] - cpu_before[1]) / len(every) * 1000
            print(f"rate {rate:6.0f}/s  achieved {achieved:7.1f}/s  CPU per request: server "
                  f"{server_ms:.2f} ms, generator {generator_ms:.2f} ms")  # fmt: skip
            for kind, values in sorted(result.items()):
                print(line(rate, kind, values))
            print(line(rate, "all", every))
            if saturated_at is None and (
                achieved < 0.95 * rate or neutral.percentile(every, 99) > 1.0
            ):
                saturated_at = rate
        print(f"saturation (first offered rate with achieved < 95% or p99 > 1 s): {saturated_at}")
    finally:
        await api.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=["reads", "mixed"], default="reads")
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 100, 150, 200, 300, 400])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runtime", choices=["fake", "docker"], default="fake")
    args = parser.parse_args()
    image = ensure_test_image()
    print(f"open loop, profile {args.profile}, runtime {args.runtime}, {args.seconds:.0f} s per "
          "rate, latency from each request's scheduled send time")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        server = neutral.server(
            Path(tmp) / "data", DOCKYARD_AGENT__RUNTIME=args.runtime,
            DOCKYARD_QUOTA__CONTAINERS="-1", DOCKYARD_QUOTA__CPU="-1", DOCKYARD_QUOTA__MEMORY="-1",
        ).start(neutral.START_TIMEOUT)  # fmt: skip
        try:
            asyncio.run(drive(server, image, args))
        finally:
            server.stop()
            server.remove_engine_objects()


if __name__ == "__main__":
    main()
