"""Create → Running in a sandbox: Dockyard's modes against the docker SDK, in one process.

    python -m bench.sandbox_latency [--runs 30] [--watch]

Sides per round, in an order that rotates from round to round:
  sdk          docker SDK low-level create + start of a plain container (the raw engine)
  standalone   Dockyard, sandbox_mode standalone
  pooled       Dockyard, default sandbox mode, a sandbox from the warm pool (pool size 2)
  on_demand    Dockyard, default sandbox mode, pool off: the sandbox is made for the container
  (--watch adds pooled_watch: pooled, waited for with GET ?wait_status=; an extra column)
Dockyard is polled with GET every 10 ms, the engine with an inspect (what the SDK's reload()
does) every 10 ms; each measurement starts on a settled engine: previous container gone, its
sandbox torn down, pool refilled. The servers run the agent's default intervals.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker
from tests.support.server import DockyardProcess
from tests.support.testimage import ensure_test_image

from bench import neutral

LABELS = {
    "sdk": "(raw) SDK create+start",
    "standalone": "Dockyard standalone",
    "pooled": "Dockyard sandbox, warm pool",
    "on_demand": "Dockyard sandbox, no pool",
    "pooled_watch": "Dockyard sandbox, pool, watch (extra)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--watch", action="store_true", help="add the ?wait_status column")
    args = parser.parse_args()
    sides = ["sdk", "standalone", "pooled", "on_demand"] + (["pooled_watch"] if args.watch else [])
    image = ensure_test_image()
    engine = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        pooled = neutral.server(Path(tmp) / "pool", DOCKYARD_AGENT__POOL_SIZE="2")
        bare = neutral.server(Path(tmp) / "bare", DOCKYARD_AGENT__POOL_SIZE="0",
                              DOCKYARD_AGENT__HOSTNAME="bench-no-pool")  # fmt: skip
        servers = [pooled.start(neutral.START_TIMEOUT), bare.start(neutral.START_TIMEOUT)]
        try:
            timings = measure(servers, engine, image, sides, args.runs)
        finally:
            neutral.cleanup(engine, servers)
    print(neutral.RULES)
    print(neutral.environment())
    pools = ", ".join(str(int(p)) for p in timings["pool"])
    print(f"warm pool (adaptive, floor 2) before each pooled round: {pools}")
    for side in sides:
        print(neutral.report(LABELS[side], timings[side]))
    for side in sides[1:]:
        print(neutral.ratio(f"{LABELS[side]} / SDK", timings[side], timings["sdk"]))


def measure(
    servers: list[DockyardProcess], engine: docker.DockerClient, image: str,
    sides: list[str], runs: int,
) -> dict[str, list[float]]:  # fmt: skip
    timings: dict[str, list[float]] = {side: [] for side in sides}
    timings["pool"] = []  # the pooled server's warm pool before each of its sandbox rounds
    with servers[0].client() as pooled, servers[1].client() as bare:
        apis = {"standalone": pooled, "pooled": pooled, "on_demand": bare, "pooled_watch": pooled}
        run: dict[str, Callable[[str], tuple[float, str]]] = {
            "sdk": lambda n: neutral.sdk_create_start(engine, image, n),
            "standalone": lambda n: neutral.dockyard_create(
                pooled, image, n, sandbox_mode="standalone"
            ),
            "pooled": lambda n: neutral.dockyard_create(pooled, image, n, sandbox_mode="sandbox"),
            "on_demand": lambda n: neutral.dockyard_create(bare, image, n, sandbox_mode="sandbox"),
            "pooled_watch": lambda n: neutral.dockyard_create(
                pooled, image, n, watch=True, sandbox_mode="sandbox"
            ),
        }
        for round_no in range(-1, runs):  # round -1 warms every path up and is not counted
            for side in neutral.rotated(sides, round_no):
                pool = neutral.wait_settled(engine, servers)[0]
                if side in ("pooled", "pooled_watch") and round_no >= 0:
                    timings["pool"].append(pool)
                elapsed, ident = run[side](f"sbench-{side}-{round_no + 1}")
                if round_no >= 0:
                    timings[side].append(elapsed)
                if side == "sdk":
                    neutral.sdk_remove(engine, ident)
                else:
                    neutral.dockyard_remove(apis[side], ident)
    return timings


if __name__ == "__main__":
    main()
