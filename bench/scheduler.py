"""Placement throughput: many hollow hosts, many containers, PostgreSQL, through the HTTP API.

    python -m bench.scheduler [--hosts 10000] [--containers 100000] [--concurrency 64]
                              [--replicas 2] [--database-url postgresql+psycopg://...]

Starts `dockyard api` replicas on a new PostgreSQL database, registers `--hosts` hosts
through the agent API with the join token (hollow: nothing runs on them, placement is what
is measured; a large DOCKYARD_SCHEDULER__HOST_DOWN_AFTER keeps them up without
heartbeats), then sends
`--containers` creates (`POST /v1/containers`) with `--concurrency` requests in flight,
spread over the replicas. It prints placements per second (containers that got a host,
divided by the time from the first create sent to the last create answered), the create
p50/p99, and the ratio to Nomad's published 3,750 placements/s (the C1M challenge). Then
it checks that no host is over its limits and every container was placed once.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams, so that the
measuring side costs little CPU next to the server on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.support.server import free_port
from tests.support.wait import wait_process_ready

NOMAD_C1M = 3750.0  # placements/s: 1,000,000 containers on 5,000 hosts in under 5 minutes
HOST_CPUS, HOST_MEM = 8, 16384
JOIN_TOKEN = "bench-join-token-0123456789abcdef"


@dataclass
class Replica:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    placed: dict[str, str] = field(default_factory=dict)  # container uuid -> host
    failed: int = 0


class Connection:
    """One keep-alive HTTP/1.1 connection; requests on it are sequential."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: dict[str, object]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        payload = json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"OpenStack-API-Version: container 1.40\r\n"
            f"Authorization: Bearer {JOIN_TOKEN}\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def new_database(server_url: str) -> tuple[str, str]:
    name = f"dockyard_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(server_url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        if os.environ.get("BENCH_ASYNC_COMMIT"):
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    admin.dispose()
    return name, make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    admin = create_engine(make_url(server_url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def start_replicas(count: int, url: str, workdir: Path) -> list[Replica]:
    env = {
        **os.environ,
        "DOCKYARD_DATABASE__URL": url,
        "DOCKYARD_SCHEDULER__HOST_DOWN_AFTER": "86400",
        "DOCKYARD_QUOTA__CONTAINERS": "-1",
        "DOCKYARD_QUOTA__CPU": "-1",
        "DOCKYARD_QUOTA__MEMORY": "-1",
        "DOCKYARD_LOG_LEVEL": "warning",
    }
    replicas = []
    for i in range(count):
        port, log = free_port(), workdir / f"api{i}.log"
        command = [sys.executable, "-m", "dockyard", "api", "--port", str(port),
                   "--data-dir", str(workdir / f"api{i}"), "--join-token", JOIN_TOKEN]  # fmt: skip
        process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                                   env=env)  # fmt: skip
        replicas.append(Replica(port, process, log))
        if i == 0:  # the first one migrates the database; the others start after it
            wait_ready(replicas[0])
    for replica in replicas[1:]:
        wait_ready(replica)
    return replicas


def wait_ready(replica: Replica) -> None:
    import httpx

    def probe() -> bool:
        return httpx.get(f"http://127.0.0.1:{replica.port}/", timeout=2).status_code == 200

    wait_process_ready(replica.process, probe, "dockyard api", replica.log.read_text, 60)


async def run_pool(jobs: int, concurrency: int, ports: list[int], work: object) -> None:
    """Run work(conn, i) for i in range(jobs) on `concurrency` connections, round-robin."""
    counter = iter(range(jobs))

    async def worker(slot: int) -> None:
        conn = Connection(ports[slot % len(ports)])
        try:
            for i in counter:
                await work(conn, i)  # type: ignore[operator]
        finally:
            conn.close()

    await asyncio.gather(*(worker(s) for s in range(concurrency)))


async def register_hosts(count: int, ports: list[int], concurrency: int) -> None:
    async def register(conn: Connection, i: int) -> None:
        body = {"hostname": f"hollow-{i:05d}", "agent_url": "http://127.0.0.1:1",
                "agent_token": "hollow-host-api-secret", "cpus": HOST_CPUS, "mem_total": HOST_MEM,
                "disk_total": 100, "runtimes": ["runc"]}  # fmt: skip
        status, answer = await conn.request("POST", "/agent/v1/hosts", body)
        if status != 200:
            raise RuntimeError(f"registration failed: {status} {answer[:300]!r}")

    await run_pool(count, concurrency, ports, register)


async def create_containers(count: int, ports: list[int], concurrency: int, stats: Stats) -> None:
    async def create(conn: Connection, i: int) -> None:
        body = {"name": f"c{i}", "image": "busybox", "command": ["true"], "cpu": 0.1,
                "memory": 32, "sandbox_mode": "standalone"}  # fmt: skip
        start = time.perf_counter()
        status, answer = await conn.request("POST", "/v1/containers", body)
        stats.latencies.append(time.perf_counter() - start)
        if status != 202:
            raise RuntimeError(f"create failed: {status} {answer[:300]!r}")
        view = json.loads(answer)
        if view.get("host"):
            stats.placed[view["uuid"]] = view["host"]
        else:
            stats.failed += 1

    await run_pool(count, concurrency, ports, create)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def check_database(url: str, containers: int) -> str:
    sync = make_url(url).set(drivername="postgresql+psycopg")
    engine = create_engine(sync)
    with engine.connect() as conn:
        over = conn.execute(text(
            "SELECT count(*) FROM hosts WHERE cpu_used > cpus * 16.0 + 1e-6 "
            "OR mem_used > mem_total * 1.5"
        )).scalar_one()  # fmt: skip
        mismatched = conn.execute(text(
            "SELECT count(*) FROM hosts h LEFT JOIN (SELECT host_uuid, sum(cpu) c, "
            "sum(memory) m FROM containers GROUP BY host_uuid) s ON s.host_uuid = h.uuid "
            "WHERE abs(h.cpu_used - coalesce(s.c, 0)) > 1e-6 OR h.mem_used <> coalesce(s.m, 0)"
        )).scalar_one()  # fmt: skip
        rows = conn.execute(text("SELECT count(*) FROM containers")).scalar_one()
    engine.dispose()
    return (
        f"check: {rows}/{containers} container rows, {over} hosts over their limits, "
        f"{mismatched} hosts whose usage differs from the sum of their containers"
    )


async def bench(args: argparse.Namespace, ports: list[int]) -> Stats:
    started = time.perf_counter()
    await register_hosts(args.hosts, ports, min(args.concurrency, 32))
    print(f"registered {args.hosts} hosts in {time.perf_counter() - started:.1f} s")
    stats = Stats()
    started = time.perf_counter()
    await create_containers(args.containers, ports, args.concurrency, stats)
    elapsed = time.perf_counter() - started
    rate = len(stats.placed) / elapsed
    p50, p99 = percentile(stats.latencies, 50) * 1000, percentile(stats.latencies, 99) * 1000
    print(
        f"hosts={args.hosts} containers={args.containers} replicas={args.replicas} "
        f"concurrency={args.concurrency}\n"
        f"placed={len(stats.placed)} unplaced={stats.failed} in {elapsed:.1f} s\n"
        f"placements/s={rate:.0f}  create p50={p50:.1f} ms  p99={p99:.1f} ms\n"
        f"ratio to Nomad C1M (3,750 placements/s): {rate / NOMAD_C1M:.3f}"
    )
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--containers", type=int, default=100000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DOCKYARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name, url = new_database(args.database_url)
    replicas: list[Replica] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            replicas = start_replicas(args.replicas, url, Path(tmp))
            asyncio.run(bench(args, [r.port for r in replicas]))
            print(check_database(url, args.containers))
    finally:
        for replica in replicas:
            replica.process.terminate()
        for replica in replicas:
            replica.process.wait(15)
        if not args.keep:
            drop_database(args.database_url, name)


if __name__ == "__main__":
    main()
