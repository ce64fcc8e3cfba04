"""Create-and-run → Running: Dockyard's API against the docker SDK, interleaved in one run.

    python -m bench.create_latency [--runs 30]

Each round runs one container through `POST /v1/containers?run=true` and polls
`GET /v1/containers/{uuid}` until it is Running, and one through the docker SDK's
`containers.run(detach=True)` followed by `reload()` until it is running. Rounds alternate
which side goes first so neither gets a systematically warmer engine.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, ensure_test_image

POLL = 0.005  # seconds between status polls, on both sides
WATCH = False  # --watch: wait with GET ?wait_status= instead of polling


def dockyard_run(api: httpx.Client, image: str, name: str, **extra: str) -> tuple[float, str]:
    """Seconds from POST ?run=true until GET shows Running, and the container's uuid."""
    start = time.perf_counter()
    body = {"name": name, "image": image, "command": SLEEP_FOREVER, **extra}
    response = api.post("/v1/containers?run=true", json=body)
    response.raise_for_status()
    uuid = response.json()["uuid"]
    while True:
        if WATCH:  # Dockyard's watch extension: the GET answers when the status arrives
            params = {"wait_status": "Running,Error", "wait_timeout": 30}
            status = api.get(f"/v1/containers/{uuid}", params=params).json()["status"]
        else:
            status = api.get(f"/v1/containers/{uuid}").json()["status"]
        if status == "Running":
            return time.perf_counter() - start, uuid
        if status == "Error":
            raise RuntimeError(f"container {uuid} failed")
        time.sleep(0 if WATCH else POLL)


def sdk_run(client: docker.DockerClient, image: str, name: str) -> tuple[float, str]:
    """Seconds for `docker run -d` through the SDK until the engine says running."""
    start = time.perf_counter()
    container = client.containers.run(
        image, SLEEP_FOREVER, name=name, detach=True, labels={"io.dockyard.bench": "1"},
        nano_cpus=10**9, mem_limit="512m",
    )  # fmt: skip
    while container.status != "running":
        time.sleep(POLL)
        container.reload()
    return time.perf_counter() - start, container.id


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, values: list[float]) -> str:
    p50, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
    mean = statistics.mean(values) * 1000
    return (
        f"{name:<28} n={len(values):<3} p50={p50:7.1f} ms  p95={p95:7.1f} ms  mean={mean:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--watch", action="store_true", help="use GET ?wait_status (no polling)")
    args = parser.parse_args()
    global WATCH
    WATCH = args.watch
    image = ensure_test_image()
    client = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        server = DockyardProcess(Path(tmp) / "data").start()
        try:
            with server.client() as api:
                timings = measure(api, client, image, args.runs)
        finally:
            server.stop()
            server.remove_engine_objects()
            for c in client.containers.list(all=True, filters={"label": "io.dockyard.bench=1"}):
                c.remove(force=True)
    dy, sdk = timings["dockyard"], timings["sdk"]
    print(report("docker SDK run (raw engine)", sdk))
    print(report("Dockyard API create+run", dy))
    print(f"ratio Dockyard/SDK  p50={percentile(dy, 50) / percentile(sdk, 50):.3f}  "
          f"p95={percentile(dy, 95) / percentile(sdk, 95):.3f}")  # fmt: skip


def measure(
    api: httpx.Client, client: docker.DockerClient, image: str, runs: int
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"dockyard": [], "sdk": []}
    # One warm-up of each side: first-use costs (imports, connection set-up) are not latency.
    sides: dict[str, Callable[[str], tuple[float, str]]] = {
        "dockyard": lambda n: dockyard_run(api, image, n, sandbox_mode="standalone"),
        "sdk": lambda n: sdk_run(client, image, n),
    }
    for i in range(-1, runs):
        order = ["dockyard", "sdk"] if i % 2 == 0 else ["sdk", "dockyard"]
        for side in order:
            elapsed, ident = sides[side](f"bench-{side}-{i + 1}")
            if i >= 0:
                timings[side].append(elapsed)
            if side == "dockyard":
                remove_through_api(api, ident)
            else:
                client.containers.get(ident).remove(force=True)
    return timings


def remove_through_api(api: httpx.Client, uuid: str) -> None:
    """Delete and wait until it is gone, so no removal overlaps the next measurement."""
    api.delete(f"/v1/containers/{uuid}?force=true")
    while api.get(f"/v1/containers/{uuid}").status_code != 404:
        time.sleep(POLL)


if __name__ == "__main__":
    main()
