"""Create → Running for a bare `docker run -d` and three Dockyard modes, interleaved in one run.

    python -m bench.sandbox_latency [--runs 30]

(a) `docker run -d` through the docker SDK, (b) Dockyard standalone, (c) Dockyard in a
sandbox taken from the warm pool, (d) Dockyard in a sandbox made on demand (no pool).
(b) and (c) go to one `dockyard serve` (pool size 2), (d) to a second one with the pool off;
both drive the same engine. Every round runs all four in a rotating order; each container is
removed (and, through the API, waited for until gone) before the next measurement, and the
pool is given time to refill, so no background work overlaps a measurement.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
from tests.support.server import DockyardProcess
from tests.support.testimage import ensure_test_image

from bench import create_latency
from bench.create_latency import dockyard_run, percentile, remove_through_api, report, sdk_run

SIDES = ("a_sdk", "b_standalone", "c_sandbox_pool", "d_sandbox_no_pool")
LABELS = {
    "a_sdk": "(a) docker run -d (SDK)",
    "b_standalone": "(b) Dockyard standalone",
    "c_sandbox_pool": "(c) Dockyard sandbox, pool",
    "d_sandbox_no_pool": "(d) Dockyard sandbox, no pool",
}


def wait_pool_full(engine: docker.DockerClient, server: DockyardProcess, size: int) -> None:
    """Let the pool refill before the next measurement (its refill is background work)."""
    filters = {"label": [f"io.dockyard.host={server.host_uuid}", "io.dockyard.pool=1"]}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        free = [
            c
            for c in engine.containers.list(filters=filters)
            if c.name.startswith("dockyard-pool-")
        ]
        if len(free) >= size:
            return
        time.sleep(0.05)


def measure(
    pooled: httpx.Client, unpooled: httpx.Client, engine: docker.DockerClient,
    pool_server: DockyardProcess, image: str, runs: int,
) -> dict[str, list[float]]:  # fmt: skip
    timings: dict[str, list[float]] = {side: [] for side in SIDES}
    runners: dict[str, Callable[[str], tuple[float, str]]] = {
        "a_sdk": lambda n: sdk_run(engine, image, n),
        "b_standalone": lambda n: dockyard_run(pooled, image, n, sandbox_mode="standalone"),
        "c_sandbox_pool": lambda n: dockyard_run(pooled, image, n, sandbox_mode="sandbox"),
        "d_sandbox_no_pool": lambda n: dockyard_run(unpooled, image, n, sandbox_mode="sandbox"),
    }
    apis = {"b_standalone": pooled, "c_sandbox_pool": pooled, "d_sandbox_no_pool": unpooled}
    for i in range(-1, runs):  # round -1 warms every path up and is not counted
        order = SIDES[i % 4 :] + SIDES[: i % 4]
        for side in order:
            wait_pool_full(engine, pool_server, 2)
            elapsed, ident = runners[side](f"sbench-{side[0]}-{i + 1}")
            if i >= 0:
                timings[side].append(elapsed)
            if side == "a_sdk":
                engine.containers.get(ident).remove(force=True)
            else:
                remove_through_api(apis[side], ident)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--watch", action="store_true", help="use GET ?wait_status (no polling)")
    args = parser.parse_args()
    create_latency.WATCH = args.watch
    image = ensure_test_image()
    engine = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        pool_server = DockyardProcess(Path(tmp) / "pool").start()
        bare_server = DockyardProcess(Path(tmp) / "bare", DOCKYARD_AGENT__POOL_SIZE="0",
                                      DOCKYARD_AGENT__HOSTNAME="bench-no-pool").start()  # fmt: skip
        try:
            with pool_server.client() as pooled, bare_server.client() as unpooled:
                timings = measure(pooled, unpooled, engine, pool_server, image, args.runs)
        finally:
            for server in (pool_server, bare_server):
                server.stop()
                server.remove_engine_objects()
            for c in engine.containers.list(all=True, filters={"label": "io.dockyard.bench=1"}):
                c.remove(force=True)
    base50, base95 = percentile(timings["a_sdk"], 50), percentile(timings["a_sdk"], 95)
    for side in SIDES:
        print(report(LABELS[side], timings[side]))
    for side in SIDES[1:]:
        values = timings[side]
        print(f"ratio {LABELS[side]:<30} / (a)  p50={percentile(values, 50) / base50:.3f}  "
              f"p95={percentile(values, 95) / base95:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
