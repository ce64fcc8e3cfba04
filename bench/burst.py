"""Burst throughput: N concurrent creates until all are Running, Dockyard against the SDK.

    python -m bench.burst [--sizes 20 100] [--rounds 3] [--mode sandbox|standalone]

Both sides use 8 client threads over the same N containers:
  sdk       each thread creates + starts its share (the SDK's low-level create and start,
            the agent's two engine calls), then inspects each every 10 ms until running
  dockyard  each thread POSTs its share (?run=true, default sandbox mode unless --mode),
            then GETs each of them every 10 ms until Running
A round starts on a settled engine (everything of the previous round removed, the warm pool
refilled to the agent's current target), and the side that goes first alternates.
  burst  from the first request to the last container seen running; throughput N / that
         time (the headline). The pool's refill runs meanwhile, beside the creates.
  cycle  the burst, then the N deletes (8 threads; Dockyard's until each is gone from the
         API) and the wait until the engine is settled again: the sandboxes' teardown and the
         pool's refill count here, as they would for the next user.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, ensure_test_image

from bench import neutral

THREADS = 8
# Small limits, the same on both sides, so that 100 of them fit one host's allocation
# (a 2-core host: 32 CPUs at Zun's ratio of 16) instead of being refused for lack of room.
CPU = 0.25
MEMORY = 128  # MiB


def sdk_share(engine: docker.DockerClient, image: str, names: list[str]) -> list[str]:
    made = [neutral.sdk_make(engine, image, name, cpu=CPU, memory_mib=MEMORY) for name in names]
    for ident in made:
        neutral.sdk_wait_running(engine, ident)
    return made


def dockyard_share(api: httpx.Client, image: str, names: list[str], mode: str) -> list[str]:
    uuids = []
    for name in names:
        body = {
            "name": name, "image": image, "command": SLEEP_FOREVER, "sandbox_mode": mode,
            "cpu": CPU, "memory": str(MEMORY),
        }  # fmt: skip
        response = api.post("/v1/containers?run=true", json=body)
        response.raise_for_status()
        uuids.append(str(response.json()["uuid"]))
    for uuid in uuids:
        while (shown := api.get(f"/v1/containers/{uuid}").json())["status"] != "Running":
            if shown["status"] == "Error":
                raise RuntimeError(f"container {uuid} went to Error: {shown['status_reason']}")
            time.sleep(neutral.POLL)
    return uuids


def timed_burst(
    share: Callable[[list[str]], list[str]], names: list[str]
) -> tuple[float, list[str]]:
    shares = [names[i::THREADS] for i in range(THREADS)]
    start = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(share, shares))
    return time.perf_counter() - start, [ident for part in results for ident in part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mode", default="sandbox", choices=["sandbox", "standalone"])
    args = parser.parse_args()
    image = ensure_test_image()
    engine = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        server = neutral.server(
            Path(tmp) / "data", DOCKYARD_QUOTA__CONTAINERS="-1", DOCKYARD_QUOTA__CPU="-1",
            DOCKYARD_QUOTA__MEMORY="-1",
        ).start(neutral.START_TIMEOUT)  # fmt: skip
        try:
            results = measure(server, engine, image, args)
        finally:
            neutral.cleanup(engine, [server])
    print(neutral.RULES + f"; {THREADS} client threads per side; mode {args.mode}")
    print(neutral.environment())
    for size, timings in results.items():
        sdk, dy = timings["sdk"], timings["dockyard"]
        print(neutral.report(f"N={size} SDK, seconds", sdk, "s", 1))
        print(neutral.report(f"N={size} Dockyard, seconds", dy, "s", 1))
        sdk_rate, dy_rate = size / neutral.percentile(sdk, 50), size / neutral.percentile(dy, 50)
        pools = ", ".join(str(int(p)) for p in timings["pool"])
        print(f"N={size} warm pool (adaptive) before each Dockyard round: {pools}")
        print(f"N={size} throughput at p50: SDK {sdk_rate:.2f}/s  Dockyard {dy_rate:.2f}/s  "
              f"ratio Dockyard/SDK {dy_rate / sdk_rate:.3f}")  # fmt: skip
        sdk_cycle, dy_cycle = timings["sdk_cycle"], timings["dockyard_cycle"]
        print(neutral.report(f"N={size} SDK cycle, seconds", sdk_cycle, "s", 1))
        print(neutral.report(f"N={size} Dockyard cycle, seconds", dy_cycle, "s", 1))
        cycle = neutral.percentile(sdk_cycle, 50) / neutral.percentile(dy_cycle, 50)
        print(f"N={size} cycle throughput at p50, ratio Dockyard/SDK {cycle:.3f}")


def measure(
    server: DockyardProcess, engine: docker.DockerClient, image: str, args: argparse.Namespace
) -> dict[int, dict[str, list[float]]]:
    results: dict[int, dict[str, list[float]]] = {}
    with server.client(limits=httpx.Limits(max_connections=THREADS * 2)) as api:
        sides: dict[str, Callable[[list[str]], list[str]]] = {
            "sdk": lambda names: sdk_share(engine, image, names),
            "dockyard": lambda names: dockyard_share(api, image, names, args.mode),
        }
        for size in args.sizes:
            results[size] = {k: [] for k in ("sdk", "dockyard", "sdk_cycle", "dockyard_cycle")}
            results[size]["pool"] = []
            for round_no in range(args.rounds):
                for side in neutral.rotated(list(sides), round_no):
                    pool = neutral.wait_settled(engine, [server])[0]
                    if side == "dockyard":
                        results[size]["pool"].append(pool)
                    names = [f"burst-{side}-{size}-{round_no}-{i}" for i in range(size)]
                    elapsed, idents = timed_burst(sides[side], names)
                    start = time.perf_counter()
                    remove_all(engine, api, side, idents)
                    neutral.wait_settled(engine, [server])
                    results[size][side].append(elapsed)
                    results[size][f"{side}_cycle"].append(elapsed + time.perf_counter() - start)
    return results


def remove_all(
    engine: docker.DockerClient, api: httpx.Client, side: str, idents: list[str]
) -> None:
    with ThreadPoolExecutor(THREADS) as pool:
        if side == "sdk":
            list(pool.map(lambda i: neutral.sdk_remove(engine, i), idents))
        else:
            list(pool.map(lambda u: neutral.dockyard_remove(api, u), idents))


if __name__ == "__main__":
    main()
