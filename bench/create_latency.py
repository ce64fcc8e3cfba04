"""Create → Running, standalone: Dockyard's API against the docker SDK, in one process.

    python -m bench.create_latency [--runs 30]

Sides per round, in an order that rotates from round to round:
  sdk       docker SDK low-level create + start, then inspect (as reload() does) every
            10 ms until running (the raw engine: the agent's own two engine calls)
  dockyard  POST /v1/containers?run=true (sandbox_mode standalone), GET every 10 ms
  watch     the same create, waited for with GET ?wait_status= (extra column, not the headline)
Each measurement starts on a settled engine (see bench/neutral.py).
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

SIDES = ("sdk", "dockyard", "watch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    image = ensure_test_image()
    engine = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        server = neutral.server(Path(tmp) / "data").start(neutral.START_TIMEOUT)
        try:
            timings = measure(server, engine, image, args.runs)
        finally:
            neutral.cleanup(engine, [server])
    print(neutral.RULES)
    print(neutral.environment())
    print(neutral.report("(raw) SDK create+start", timings["sdk"]))
    print(neutral.report("Dockyard standalone, GET poll", timings["dockyard"]))
    print(neutral.report("Dockyard standalone, watch (extra)", timings["watch"]))
    print(neutral.ratio("Dockyard poll / SDK", timings["dockyard"], timings["sdk"]))
    print(neutral.ratio("Dockyard watch / SDK (extra)", timings["watch"], timings["sdk"]))


def measure(
    server: DockyardProcess, engine: docker.DockerClient, image: str, runs: int
) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {side: [] for side in SIDES}
    with server.client() as api:
        run: dict[str, Callable[[str], tuple[float, str]]] = {
            "sdk": lambda n: neutral.sdk_create_start(engine, image, n),
            "dockyard": lambda n: neutral.dockyard_create(api, image, n, sandbox_mode="standalone"),
            "watch": lambda n: neutral.dockyard_create(
                api, image, n, watch=True, sandbox_mode="standalone"
            ),
        }
        for round_no in range(-1, runs):  # round -1 warms every path up and is not counted
            for side in neutral.rotated(SIDES, round_no):
                neutral.wait_settled(engine, [server])
                elapsed, ident = run[side](f"bench-{side}-{round_no + 1}")
                if round_no >= 0:
                    timings[side].append(elapsed)
                if side == "sdk":
                    neutral.sdk_remove(engine, ident)
                else:
                    neutral.dockyard_remove(api, ident)
    return timings


if __name__ == "__main__":
    main()
