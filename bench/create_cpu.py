"""CPU a create costs the server, and (with --phases) where its time to Running goes.

    python -m bench.create_cpu [--mode standalone|sandbox] [--runs 20] [--phases] [--profile F]

One `dockyard serve` (the agent's product intervals); each round creates a container
(?run=true, waited for with the ?wait_status watch: one request, so the polling does not
count), deletes it and waits until it is gone and the warm pool refilled (the refill is part
of what a create costs). CPU is the server process's user + system time, its threads and
the commands it ran (ip, nft), from /proc, over the measured rounds; the server's idle rate
(heartbeats, resyncs) is measured first and subtracted. That figure hardly moves with the
load of the machine, unlike latencies.

--phases runs the server under bench/traced_serve.py and prints, per phase of the create
path, how often it ran per create, when it started (ms after the POST) and how long it took
(medians). --profile FILE writes a cProfile of the server's event-loop thread too (both
slow the server: their CPU figure is not the product's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import docker
import httpx
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, ensure_test_image
from tests.support.wait import dies_with_test

from bench import neutral

IDLE = 5.0  # seconds of idle CPU measured before the rounds


class TracedProcess(DockyardProcess):
    """`dockyard serve` under bench/traced_serve.py."""

    trace_path: Path
    profile_path: Path | None = None

    def start(self, timeout: float = 60.0) -> DockyardProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        profile = ["--profile", str(self.profile_path)] if self.profile_path else []
        command = [
            sys.executable, "-m", "bench.traced_serve", "--trace", str(self.trace_path),
            *profile, "--", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        env = {**self.env, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=dies_with_test()
        )
        self._wait_ready(timeout)
        return self


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(the process's own user + system time, that of the children it waited for)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    own = (int(fields[11]) + int(fields[12])) / tick
    children = (int(fields[13]) + int(fields[14])) / tick
    return own, children


def create_wait_delete(api: httpx.Client, image: str, name: str, mode: str) -> dict[str, Any]:
    """One round; the client's times (monotonic, as the trace's) and the container's uuid."""
    posted = time.monotonic()
    body = {"name": name, "image": image, "command": SLEEP_FOREVER, "sandbox_mode": mode}
    response = api.post("/v1/containers?run=true", json=body)
    response.raise_for_status()
    answered = time.monotonic()
    uuid = str(response.json()["uuid"])
    params: dict[str, str | int] = {"wait_status": "Running,Error", "wait_timeout": 30}
    status = api.get(f"/v1/containers/{uuid}", params=params).json()["status"]
    running = time.monotonic()
    if status != "Running":
        raise RuntimeError(f"container {uuid} is {status}")
    neutral.dockyard_remove(api, uuid)
    return {"uuid": uuid, "posted": posted, "answered": answered, "running": running}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["standalone", "sandbox"], default="standalone")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--phases", action="store_true")
    parser.add_argument("--profile", default=None, help="write a cProfile of the server here")
    parser.add_argument("--keep-log", default=None, help="copy the server's log here")
    args = parser.parse_args()
    image = ensure_test_image()
    engine = docker.from_env()
    with tempfile.TemporaryDirectory() as tmp:
        traced = args.phases or args.profile
        server: DockyardProcess
        if traced:
            server = TracedProcess(Path(tmp) / "data")
            server.env = {**server.env, **neutral.PRODUCT_DEFAULTS}
            server.trace_path = Path(tmp) / "trace.json"
            server.profile_path = Path(args.profile).resolve() if args.profile else None
        else:
            server = neutral.server(Path(tmp) / "data")
        server.start(neutral.START_TIMEOUT)
        try:
            rounds, cpu = measure(server, engine, image, args.mode, args.runs)
        finally:
            neutral.cleanup(engine, [server])
            if args.keep_log:
                shutil.copy(server.log_path, args.keep_log)
        trace = Path(tmp) / "trace.json"
        events = json.loads(trace.read_text()) if traced and trace.exists() else []
    note = " [traced: CPU inflated]" if traced else ""
    print(neutral.environment())
    print(f"mode {args.mode}, {args.runs} rounds (create ?run=true, watch until Running, "
          f"delete until gone, pool refilled){note}")  # fmt: skip
    latency = [r["running"] - r["posted"] for r in rounds]
    print(neutral.report("create -> Running (watch)", latency))
    print(neutral.report("POST answered", [r["answered"] - r["posted"] for r in rounds]))
    print(
        f"server CPU per round: {cpu['own'] * 1000:.0f} ms own + {cpu['children'] * 1000:.0f} ms "
        f"commands = {cpu['total'] * 1000:.0f} ms (idle rate {cpu['idle'] * 1000:.1f} ms/s "
        "subtracted)"
    )
    if events:
        print_phases(rounds, events)


def measure(
    server: DockyardProcess, engine: docker.DockerClient, image: str, mode: str, runs: int
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    assert server.process is not None
    pid = server.process.pid
    rounds = []
    with server.client() as api:
        for warm in range(2):  # first-time costs (imports, the default network) not counted
            neutral.wait_settled(engine, [server])
            create_wait_delete(api, image, f"warm-{warm}", mode)
        neutral.wait_settled(engine, [server])
        time.sleep(1.0)
        before, at = cpu_seconds(pid), time.monotonic()
        time.sleep(IDLE)
        idle_cpu = sum(cpu_seconds(pid)) - sum(before)
        idle_rate = idle_cpu / (time.monotonic() - at)
        before, at = cpu_seconds(pid), time.monotonic()
        for n in range(runs):
            rounds.append(create_wait_delete(api, image, f"cpu-{n}", mode))
            neutral.wait_settled(engine, [server])
        after, elapsed = cpu_seconds(pid), time.monotonic() - at
    idle = idle_rate * elapsed
    own = (after[0] - before[0] - idle) / runs
    children = (after[1] - before[1]) / runs
    return rounds, {"own": own, "children": children, "total": own + children, "idle": idle_rate}


def print_phases(rounds: list[dict[str, Any]], events: list[Any]) -> None:
    """Per phase: calls per create, start after the POST and duration (medians, ms)."""
    starts: dict[str, list[float]] = defaultdict(list)
    durations: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for r in rounds:
        window = (r["posted"], r["running"])
        for phase, keys, start, end in events:
            mine = r["uuid"] in keys
            inside = not keys and window[0] <= start <= window[1]
            if mine or inside:
                if start > window[1] and not mine:
                    continue
                tag = phase if start <= window[1] else f"{phase} [after Running]"
                counts[tag] += 1
                starts[tag].append((start - r["posted"]) * 1000)
                durations[tag].append((end - start) * 1000)
    print("phases (medians over rounds; 'after Running': same container, later)")
    print(f"{'phase':<44} {'per create':>10} {'starts at':>10} {'takes':>9}")
    for tag in sorted(starts, key=lambda t: statistics.median(starts[t])):
        print(
            f"{tag:<44} {counts[tag] / len(rounds):>10.2f} "
            f"{statistics.median(starts[tag]):>8.1f}ms {statistics.median(durations[tag]):>7.1f}ms"
        )
    running = statistics.median((r["running"] - r["posted"]) * 1000 for r in rounds)
    answered = statistics.median((r["answered"] - r["posted"]) * 1000 for r in rounds)
    print(f"{'(client) POST answered':<44} {'':>10} {answered:>8.1f}ms")
    print(f"{'(client) watch saw Running':<44} {'':>10} {running:>8.1f}ms")


if __name__ == "__main__":
    main()
