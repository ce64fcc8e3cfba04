"""Memory per hollow host: RSS of `dockyard agent --runtime fake --hosts N` once all joined.

One `dockyard api` on SQLite; prints RSS for each N and the slope between the two largest.
    PYTHONPATH=. .venv/bin/python -m bench.hollow_memory --hosts 100 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.support.parts import ApiPart, agent_part


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def measure(workdir: Path, count: int) -> tuple[float, float]:
    """(RSS MiB after every host joined and a few heartbeats, seconds until all joined)."""
    api = ApiPart(workdir / f"api-{count}", f"sqlite+aiosqlite:///{workdir}/db-{count}.db")
    api.start()
    slow = {"DOCKYARD_AGENT__HEARTBEAT_INTERVAL": "5", "DOCKYARD_AGENT__WATCH_TIMEOUT": "20"}
    agent = agent_part(workdir, [api.url], "--runtime", "fake", "--hosts", str(count),
                       "--name", f"hollow{count}", "--state-dir", str(workdir / f"s{count}"),
                       **slow)  # fmt: skip
    started = time.monotonic()
    process = agent.spawn()
    try:
        with api.client() as http:
            while len(http.get("/v1/hosts", params={"limit": 5000}).json()["hosts"]) < count:
                if process.poll() is not None:
                    raise RuntimeError(agent.log())
                time.sleep(1)
            joined = time.monotonic() - started
            time.sleep(15)  # heartbeats and long-polls settle
            return rss_mib(process.pid), joined
    finally:
        agent.stop()
        api.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.hosts:
            rss, joined = measure(Path(tmp), count)
            results[count] = rss
            print(f"N={count}: agent RSS {rss:.1f} MiB, all joined in {joined:.1f} s")
    small, large = sorted(results)[-2:] if len(results) > 1 else (0, max(results))
    if small:
        per_host = (results[large] - results[small]) / (large - small) * 1024
        print(f"per hollow host (slope N={small}→{large}): {per_host:.0f} KiB")


if __name__ == "__main__":
    main()
