"""One create at a time: how long from sending the create until the host's agent is told.

    python -m bench.placement_latency [--creates 200] [--database-url URL]

Starts one `dockyard api` (on a new database of the PostgreSQL server --database-url,
else on SQLite in a temporary directory), registers one hollow host, and for each create
first opens that host's assignment long-poll (what an agent keeps open), then sends
`POST /v1/containers` and times (1) the create's answer and (2) the long-poll's answer
naming the container: the create→placed latency an agent sees, scheduler wake-up
included. Prints p50/p99 of both.
To compare with another tree, run it with PYTHONPATH=<that tree>/src.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tests.support.server import free_port
from tests.support.wait import stop_process, wait_process_ready

from bench.scheduler import JOIN_TOKEN, drop_database, new_database, percentile

V140 = {"OpenStack-API-Version": "container 1.40"}


def start(workdir: Path, database_url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port, log = free_port(), workdir / "api.log"
    command = [sys.executable, "-m", "dockyard", "api", "--port", str(port),
               "--data-dir", str(workdir / "api"), "--join-token", JOIN_TOKEN]  # fmt: skip
    if database_url:
        command += ["--database-url", database_url]
    env = {**os.environ, "DOCKYARD_QUOTA__CONTAINERS": "-1", "DOCKYARD_QUOTA__CPU": "-1",
           "DOCKYARD_QUOTA__MEMORY": "-1"}  # fmt: skip
    process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"

    def probe() -> bool:
        return httpx.get(f"{url}/", timeout=2).status_code == 200

    wait_process_ready(process, probe, "dockyard api", log.read_text, 60)
    return process, url


async def measure(url: str, creates: int) -> tuple[list[float], list[float]]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        body = {"hostname": "latency-host", "agent_url": "http://127.0.0.1:1",
                "agent_token": "latency-host-api-secret", "cpus": 64, "mem_total": 1 << 20,
                "disk_total": 100, "runtimes": ["runc"]}  # fmt: skip
        token = {"Authorization": f"Bearer {JOIN_TOKEN}"}
        joined = (await http.post("/agent/v1/hosts", json=body, headers=token)).json()
        agent = {"Authorization": f"Bearer {joined['credential']}"}
        revision, answered, placed = joined["revision"], [], []
        for i in range(creates):
            poll = asyncio.create_task(http.get(
                f"/agent/v1/hosts/{joined['uuid']}/assignments",
                params={"since": revision, "wait": 20}, headers=agent,
            ))  # fmt: skip
            await asyncio.sleep(0.01)  # the long-poll is open before the create is sent
            started = time.perf_counter()
            created = await http.post("/v1/containers", headers=V140, json={
                "name": f"lat{i}", "image": "busybox", "command": ["true"], "cpu": 0.1,
                "memory": 16, "sandbox_mode": "standalone"})  # fmt: skip
            answered.append(time.perf_counter() - started)
            if created.status_code != 202:
                raise RuntimeError(f"create failed: {created.status_code} {created.text}")
            batch = (await poll).json()
            placed.append(time.perf_counter() - started)
            uuids = [c["uuid"] for c in batch["containers"]]
            if uuids != [created.json()["uuid"]]:
                raise RuntimeError(f"the long-poll answered {uuids}, not the new container")
            revision = batch["revision"]
        return answered, placed


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--creates", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    name, database = new_database(args.database_url) if args.database_url else ("", None)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            process, url = start(Path(tmp), database)
            try:
                answered, placed = asyncio.run(measure(url, args.creates))
            finally:
                stop_process(process)
    finally:
        if name:
            drop_database(args.database_url, name)
    for label, values in (("create answered", answered), ("create -> agent told", placed)):
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        print(f"{label}: p50={p50:.1f} ms p99={p99:.1f} ms ({len(values)} creates, one at a time)")


if __name__ == "__main__":
    main()
