"""Burst throughput: N concurrent creates until all are Running, Dockyard against the SDK.

    python -m bench.burst [--sizes 20 100] [--rounds 3] [--mode sandbox|standalone]

Both sides use 8 client threads over the same N containers:
  sdk       each thread creates + starts its share through the docker SDK, then reload()s
            each of them every 10 ms until running
  dockyard  each thread POSTs its share (?run=true, default sandbox mode unless --mode),
            then GETs each of them every 10 ms until Running
A round's time runs from the first request to the last container seen running; throughput is
N / that time. Pool refill and sandbox teardown count, as they would for a user: a round
starts on a settled engine (everything of the previous round removed, pool refilled), and
the side that goes first alternates.
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
    made = []
    for name in names:
        container = engine.containers.create(
            image, SLEEP_FOREVER, name=name, labels={neutral.BENCH_LABEL: "1"},
            cpu_period=100_000, cpu_quota=int(CPU * 100_000), mem_limit=MEMORY * neutral.MIB,
        )  # fmt: skip
        container.start()
        made.append(container)
    for container in made:
        container.reload()
        while container.status != "running":
            time.sleep(neutral.POLL)
            container.reload()
    return [str(c.id) for c in made]


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
        server = DockyardProcess(
            Path(tmp) / "data", DOCKYARD_QUOTA__CONTAINERS="-1", DOCKYARD_QUOTA__CPU="-1",
            DOCKYARD_QUOTA__MEMORY="-1",
        ).start()  # fmt: skip
        try:
            results = measure(server, engine, image, args)
        finally:
            neutral.cleanup(engine, [server])
    print(neutral.RULES + f"; {THREADS} client threads per side; mode {args.mode}")
    for size, timings in results.items():
        sdk, dy = timings["sdk"], timings["dockyard"]
        print(neutral.report(f"N={size} SDK, seconds", sdk, "s", 1))
        print(neutral.report(f"N={size} Dockyard, seconds", dy, "s", 1))
        sdk_rate, dy_rate = size / neutral.percentile(sdk, 50), size / neutral.percentile(dy, 50)
        pools = ", ".join(str(int(p)) for p in timings["pool"])
        print(f"N={size} warm pool (adaptive) before each Dockyard round: {pools}")
        print(f"N={size} throughput at p50: SDK {sdk_rate:.2f}/s  Dockyard {dy_rate:.2f}/s  "
              f"ratio Dockyard/SDK {dy_rate / sdk_rate:.3f}")  # fmt: skip


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
            results[size] = {"sdk": [], "dockyard": [], "pool": []}
            for round_no in range(args.rounds):
                for side in neutral.rotated(list(sides), round_no):
                    pool = neutral.wait_settled(engine, [server])[0]
                    if side == "dockyard":
                        results[size]["pool"].append(pool)
                    names = [f"burst-{side}-{size}-{round_no}-{i}" for i in range(size)]
                    elapsed, idents = timed_burst(sides[side], names)
                    results[size][side].append(elapsed)
                    remove_all(engine, api, side, idents)
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
