"""Memory with many containers: RSS of the control plane and of the agent, fake runtime.

    PYTHONPATH=. .venv/bin/python -m bench.containers_memory [--containers 1000]

One `dockyard api` on SQLite (the embedded default's database) and one `dockyard agent
--runtime fake` (one hollow host, the agent's default intervals and warm pool). RSS of both
processes is read from /proc once the host has joined (no containers), then again after
--containers containers were created through the API (8 client threads, default sandbox
mode, ?run=true), all seen Running, and a settle period of heartbeats, watches and one full
resync had passed. It prints both figures per process and the cost per container. The fake
runtime keeps the engine's own memory out of it: what is measured is Dockyard's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from tests.support.parts import ApiPart, agent_part
from tests.support.testimage import SLEEP_FOREVER

from bench.hollow_memory import rss_mib

THREADS = 8
SETTLE = 35.0  # seconds after the last Running: a full resync (30 s) and some heartbeats
UNLIMITED = {"DOCKYARD_QUOTA__CONTAINERS": "-1", "DOCKYARD_QUOTA__CPU": "-1",
             "DOCKYARD_QUOTA__MEMORY": "-1"}  # fmt: skip
AGENT_DEFAULTS = {
    "DOCKYARD_AGENT__HEARTBEAT_INTERVAL": "5", "DOCKYARD_AGENT__RESYNC_INTERVAL": "30",
    "DOCKYARD_AGENT__WATCH_TIMEOUT": "20", "DOCKYARD_AGENT__POOL_SIZE": "2",
}  # fmt: skip


def create_all(http: httpx.Client, count: int) -> None:
    """count containers (small limits, so that one hollow host holds them all)."""

    def create(i: int) -> None:
        body = {"name": f"mem-{i}", "image": "busybox", "command": SLEEP_FOREVER,
                "cpu": 0.1, "memory": "32"}  # fmt: skip
        http.post("/v1/containers?run=true", json=body).raise_for_status()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(create, range(count)))


def running(http: httpx.Client, count: int) -> int:
    rows = http.get("/v1/containers", params={"limit": count + 10}).json()["containers"]
    failed = [r["status_reason"] for r in rows if r["status"] == "Error"]
    if failed:
        raise RuntimeError(f"{len(failed)} containers failed, e.g. {failed[0]}")
    return sum(1 for r in rows if r["status"] == "Running")


def create_and_wait(http: httpx.Client, count: int) -> None:
    started = time.monotonic()
    create_all(http, count)
    while (seen := running(http, count)) < count:
        if time.monotonic() - started > 600:
            raise RuntimeError(f"only {seen} of {count} Running after 600 s")
        time.sleep(2)
    print(f"{count} containers created and Running in {time.monotonic() - started:.1f} s")


def measure(workdir: Path, count: int) -> dict[str, tuple[float, float]]:
    """Process name → (RSS MiB with no containers, RSS MiB with count of them Running)."""
    api = ApiPart(workdir / "api", f"sqlite+aiosqlite:///{workdir}/db.sqlite", **UNLIMITED)
    api.start()
    agent = agent_part(workdir, [api.url], "--runtime", "fake", "--hosts", "1",
                       "--name", "memhost", "--state-dir", str(workdir / "state"),
                       **AGENT_DEFAULTS)  # fmt: skip
    process = agent.spawn()
    assert api.process is not None
    try:
        with api.client() as http:
            while not http.get("/v1/hosts").json()["hosts"]:
                if process.poll() is not None:
                    raise RuntimeError(agent.log())
                time.sleep(0.5)
            time.sleep(10)  # the warm pool made, a heartbeat or two
            empty = rss_mib(api.process.pid), rss_mib(process.pid)
            create_and_wait(http, count)
            time.sleep(SETTLE)
            full = rss_mib(api.process.pid), rss_mib(process.pid)
    finally:
        agent.stop()
        api.stop()
    return {"control plane (dockyard api)": (empty[0], full[0]),
            "agent (dockyard agent --runtime fake)": (empty[1], full[1])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--containers", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(Path(tmp), args.containers)
    print(f"RSS from /proc/<pid>/status VmRSS, before the first create and {SETTLE:.0f} s "
          f"after all {args.containers} were Running (one hollow host, SQLite, default "
          "sandbox mode)")  # fmt: skip
    for name, (empty, full) in results.items():
        per = (full - empty) / args.containers * 1024
        print(f"{name:<40} empty {empty:7.1f} MiB  with {args.containers} containers "
              f"{full:7.1f} MiB  (+{per:.1f} KiB per container)")  # fmt: skip


if __name__ == "__main__":
    main()
