"""What every latency benchmark shares, so both sides are measured the same way.

The rules (printed by each benchmark, so a reader of its output knows them):
  1. the same wait on both sides: Dockyard is polled with GET every 10 ms, the engine with
     the SDK's reload() every 10 ms (Dockyard's ?wait_status watch is an extra column only);
  2. the baseline is the docker SDK's create + start (its low-level calls: exactly the two
     engine calls Dockyard's agent makes), with the same CPU and memory limits;
  3. every measurement starts on a settled engine: the previous one's container is gone,
     its sandbox torn down and the warm pool refilled to the size the agent itself says it
     aims for now (the pool is adaptive: it grows with recent demand, up to
     DOCKYARD_AGENT__POOL_MAX, as it would for a user; each benchmark prints its size);
  4. the order of the sides alternates from round to round.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import docker
import httpx
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER

POLL = 0.010  # seconds between status polls, on both sides
SETTLE_TIMEOUT = 60.0
BENCH_LABEL = "io.dockyard.bench"
# This run's value of BENCH_LABEL, and the prefix of its engine names: the engine is shared
# (other benchmarks and tests run beside this one), so a run lists, names and removes only
# what it made itself.
RUN = f"{os.getpid():x}"
MIB = 1024 * 1024

RULES = (
    "method: same 10 ms poll on both sides (GET / SDK inspect, as reload() does), baseline = "
    "SDK low-level create+start (the agent's two engine calls) with the same CPU and memory "
    "limits, each measurement on a settled engine (previous "
    "container gone, sandbox torn down, pool refilled to the agent's current target: the "
    "pool is adaptive, its size before each round is printed), side order alternated per round"
)
# The agent's own defaults: the test harness (DockyardProcess) beats every 2 s and resyncs
# every 5 s to make tests quick, background work a deployment does not do that often.
PRODUCT_DEFAULTS = {
    "DOCKYARD_AGENT__HEARTBEAT_INTERVAL": "5",
    "DOCKYARD_AGENT__RESYNC_INTERVAL": "30",
}
# Seconds a server may take to become ready: on a machine shared with test suites, Python
# and the migrations alone have taken over 30 s.
START_TIMEOUT = 180.0
POOL_TARGET = re.compile(r"warm pool target (\d+)")


def environment() -> str:
    """What of the machine moves the figures: its load, and the size of the host's nf_tables
    ruleset (every nft run of an agent reads all of it; tables left by finished agents made
    each run cost ≈120 ms of CPU instead of ≈15)."""
    load = Path("/proc/loadavg").read_text().split()[0]
    try:
        listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout  # noqa: S607
    except OSError:
        return f"machine: load {load}; nft not found"
    return f"machine: load {load}; host nf_tables tables: {len(listed.splitlines())}"


def server(data_dir: Path, **env: str) -> DockyardProcess:
    """A `dockyard serve` as deployed (PRODUCT_DEFAULTS), with env on top; not started."""
    process = DockyardProcess(data_dir)
    process.env = {**process.env, **PRODUCT_DEFAULTS, **env}
    return process


def sdk_create_start(client: docker.DockerClient, image: str, name: str) -> tuple[float, str]:
    """Seconds for the engine's create + start until an inspect shows it running."""
    start = time.perf_counter()
    ident = sdk_make(client, image, name, cpu=1.0, memory_mib=512)
    sdk_wait_running(client, ident)
    return time.perf_counter() - start, ident


def sdk_make(
    client: docker.DockerClient, image: str, name: str, *, cpu: float, memory_mib: int
) -> str:
    """Create + start through the SDK's low-level API: the two engine calls Dockyard's agent
    makes (the high-level containers.create() adds an inspect, run() another)."""
    host_config = client.api.create_host_config(
        cpu_period=100_000, cpu_quota=int(cpu * 100_000), mem_limit=memory_mib * MIB
    )
    created = client.api.create_container(
        image, SLEEP_FOREVER, name=engine_name(name), labels=bench_labels(),
        host_config=host_config,
    )  # fmt: skip
    ident = str(created["Id"])
    client.api.start(ident)
    return ident


def sdk_wait_running(client: docker.DockerClient, ident: str) -> None:
    """Inspect (what the SDK's reload() does) at once, then every 10 ms, until running."""
    while client.api.inspect_container(ident)["State"]["Status"] != "running":
        time.sleep(POLL)


def engine_name(name: str) -> str:
    """The engine name of a baseline container: unique to this run on a shared engine."""
    return f"{name}-{RUN}"


def bench_labels() -> dict[str, str]:
    """The labels of a baseline container, by which this run (only) finds its own."""
    return {BENCH_LABEL: RUN}


def dockyard_create(
    api: httpx.Client, image: str, name: str, *, watch: bool = False, **extra: Any
) -> tuple[float, str]:
    """Seconds from POST ?run=true until Running: GET every 10 ms, or the watch extension."""
    start = time.perf_counter()
    body = {"name": name, "image": image, "command": SLEEP_FOREVER, **extra}
    response = api.post("/v1/containers?run=true", json=body)
    response.raise_for_status()
    uuid = str(response.json()["uuid"])
    params: dict[str, str | int] | None = (
        {"wait_status": "Running,Error", "wait_timeout": 30} if watch else None
    )
    while True:
        status = api.get(f"/v1/containers/{uuid}", params=params).json()["status"]
        if status == "Running":
            return time.perf_counter() - start, uuid
        if status == "Error":
            raise RuntimeError(f"container {uuid} went to Error")
        if not watch:
            time.sleep(POLL)


def sdk_remove(client: docker.DockerClient, ident: str) -> None:
    client.api.remove_container(ident, force=True)


def dockyard_remove(api: httpx.Client, uuid: str) -> None:
    api.delete(f"/v1/containers/{uuid}", params={"force": "true"})
    _until(lambda: api.get(f"/v1/containers/{uuid}").status_code == 404, f"delete of {uuid}")


def wait_settled(engine: docker.DockerClient, servers: Sequence[DockyardProcess]) -> list[int]:
    """Until each server's host holds only its warm pool, running and at the size its agent
    aims for now (rule 3); that size per server (the pool adapts to demand: print it)."""
    sizes = []
    for server in servers:
        filters: dict[str, str | list[str] | bool] = {
            "label": f"io.dockyard.host={server.host_uuid}"
        }

        def settled(server: DockyardProcess = server, filters: Any = filters) -> bool:
            # The low-level list: the SDK's inspects each row and fails on one just removed.
            objects = engine.api.containers(all=True, filters=filters)
            pool = [c for c in objects if c["Names"][0].startswith("/dockyard-pool-")]
            running = all(c["State"] == "running" for c in pool)
            return len(objects) == len(pool) == pool_target(server) and running

        _until(settled, f"settled engine for {server.url}")
        sizes.append(pool_target(server))
    leftovers = engine.containers.list(all=True, filters={"label": f"{BENCH_LABEL}={RUN}"})
    if leftovers:
        raise RuntimeError(f"baseline containers left over: {[c.name for c in leftovers]}")
    return sizes


def pool_target(server: DockyardProcess) -> int:
    """The warm pool size the server's agent says it aims for (the last it logged)."""
    found = POOL_TARGET.findall(server.log_path.read_text(errors="replace"))
    return int(found[-1]) if found else int(server.env.get("DOCKYARD_AGENT__POOL_SIZE", "2"))


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(POLL)


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, values: Sequence[float], unit: str = "ms", scale: float = 1000) -> str:
    p50, p95 = percentile(values, 50) * scale, percentile(values, 95) * scale
    mean = statistics.mean(values) * scale
    return (
        f"{name:<36} n={len(values):<3} p50={p50:8.1f} {unit}  p95={p95:8.1f} {unit}"
        f"  mean={mean:8.1f} {unit}"
    )


def ratio(name: str, values: Sequence[float], base: Sequence[float]) -> str:
    r50 = percentile(values, 50) / percentile(base, 50)
    r95 = percentile(values, 95) / percentile(base, 95)
    return f"ratio {name:<36} p50={r50:.3f}  p95={r95:.3f}"


def rotated(sides: Sequence[str], round_no: int) -> list[str]:
    """The sides in a different order each round (rule 4)."""
    shift = round_no % len(sides)
    return [*sides[shift:], *sides[:shift]]


def cleanup(engine: docker.DockerClient, servers: Sequence[DockyardProcess]) -> None:
    for server in servers:
        server.stop()
        server.remove_engine_objects()
    for container in engine.containers.list(all=True, filters={"label": f"{BENCH_LABEL}={RUN}"}):
        container.remove(force=True)
