"""Placement throughput: many hollow hosts, many containers, PostgreSQL, through the HTTP API.

    python -m bench.scheduler [--hosts 10000] [--containers 100000] [--concurrency 64]
                              [--ingest-replicas 2] [--schedulers 1] [--batch-size 500]
                              [--mode both|backlog|concurrent] [--database-url URL]

(a) Starts `--ingest-replicas` `dockyard api --no-scheduler` replicas on a new PostgreSQL
database and registers `--hosts` hosts through the agent API with the join token, in
parallel (hollow: nothing runs on them, placement is what is measured; a large
DOCKYARD_SCHEDULER__HOST_DOWN_AFTER keeps them up without heartbeats).
(b) Sends `--containers` creates (`POST /v1/containers`) to those replicas with
`--concurrency` requests in flight: they only queue (202, Creating, no host). Prints the
create p50/p99 and the ingest rate.
(c) backlog: starts `--schedulers` replicas with the scheduler and times the drain of the
backlog: placements/s = containers placed / (time from the last look that saw none placed
to the first look that saw all placed; looks every 0.1 s), and its ratio to Nomad's
published 3,750 placements/s (the C1M challenge).
(d) concurrent: with the schedulers running, sends `--concurrent-containers` more creates
(default a tenth of `--containers`); the placement rate (creates sent until the last one
placed) is then bounded by ingestion.
Finally it checks that no host is over its limits, every host's usage is the sum of its
containers, and every container was placed exactly once.

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
from collections.abc import Callable
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


def start_replicas(
    count: int, url: str, workdir: Path, *, scheduler: bool, batch_size: int, first: int = 0
) -> list[Replica]:
    env = {
        **os.environ,
        "DOCKYARD_DATABASE__URL": url,
        "DOCKYARD_SCHEDULER__HOST_DOWN_AFTER": "86400",
        "DOCKYARD_SCHEDULER__BATCH_SIZE": str(batch_size),
        "DOCKYARD_QUOTA__CONTAINERS": "-1",
        "DOCKYARD_QUOTA__CPU": "-1",
        "DOCKYARD_QUOTA__MEMORY": "-1",
        "DOCKYARD_LOG_LEVEL": "warning",
    }
    replicas = []
    for i in range(first, first + count):
        port, log = free_port(), workdir / f"api{i}.log"
        command = [sys.executable, "-m", "dockyard", "api", "--port", str(port),
                   "--data-dir", str(workdir / f"api{i}"), "--join-token", JOIN_TOKEN]  # fmt: skip
        if not scheduler:
            command.append("--no-scheduler")
        process = subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                                   env=env)  # fmt: skip
        replicas.append(Replica(port, process, log))
        if i == first:  # the first one migrates the database; the others start after it
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


async def create_containers(
    count: int, ports: list[int], concurrency: int, stats: Stats, prefix: str
) -> None:
    async def create(conn: Connection, i: int) -> None:
        body = {"name": f"{prefix}{i}", "image": "busybox", "command": ["true"], "cpu": 0.1,
                "memory": 32, "sandbox_mode": "standalone"}  # fmt: skip
        start = time.perf_counter()
        status, answer = await conn.request("POST", "/v1/containers", body)
        stats.latencies.append(time.perf_counter() - start)
        if status != 202:
            raise RuntimeError(f"create failed: {status} {answer[:300]!r}")

    await run_pool(count, concurrency, ports, create)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Database:
    """The bench's own look at the database (sync, its own connection)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"))

    def scalar(self, sql: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    def pending(self) -> int:
        return self.scalar(
            "SELECT count(*) FROM containers WHERE host_uuid IS NULL AND status = 'Creating'"
        )

    def check(self, containers: int) -> str:
        over = self.scalar(
            "SELECT count(*) FROM hosts WHERE cpu_used > cpus * 16.0 + 1e-6 "
            "OR mem_used > mem_total * 1.5"
        )
        mismatched = self.scalar(
            "SELECT count(*) FROM hosts h LEFT JOIN (SELECT host_uuid, sum(cpu) c, "
            "sum(memory) m FROM containers GROUP BY host_uuid) s ON s.host_uuid = h.uuid "
            "WHERE abs(h.cpu_used - coalesce(s.c, 0)) > 1e-6 OR h.mem_used <> coalesce(s.m, 0)"
        )
        rows = self.scalar("SELECT count(*) FROM containers")
        placed = self.scalar("SELECT count(*) FROM containers WHERE host_uuid IS NOT NULL")
        errors = self.scalar("SELECT count(*) FROM containers WHERE status = 'Error'")
        return (
            f"check: {rows}/{containers} container rows, {placed} placed (each on one host), "
            f"{errors} Error, {over} hosts over their limits, {mismatched} hosts whose usage "
            f"differs from the sum of their containers"
        )

    def close(self) -> None:
        self.engine.dispose()


async def wait_drained(db: Database, total: int) -> tuple[float, float]:
    """(time of the last look that saw nothing placed yet, time of the first that saw all)."""
    before = time.perf_counter()
    while True:
        pending = await asyncio.to_thread(db.pending)
        now = time.perf_counter()
        if pending >= total:
            before = now
        if pending == 0:
            return before, now
        await asyncio.sleep(0.1)


def print_ingest(label: str, stats: Stats, count: int, elapsed: float) -> None:
    p50, p99 = percentile(stats.latencies, 50) * 1000, percentile(stats.latencies, 99) * 1000
    print(f"{label}: {count} creates in {elapsed:.1f} s = {count / elapsed:.0f} creates/s; "
          f"create p50={p50:.1f} ms p99={p99:.1f} ms")  # fmt: skip


def print_rate(label: str, count: int, elapsed: float, how: str) -> None:
    rate = count / elapsed
    print(f"{label}: {count} placements in {elapsed:.2f} s = {rate:.0f} placements/s; "
          f"ratio to Nomad C1M (3,750/s) = {rate / NOMAD_C1M:.3f}\n    ({how})")  # fmt: skip


async def backlog(
    args: argparse.Namespace, ingest: list[int], db: Database, start: StartSchedulers
) -> None:
    stats = Stats()
    started = time.perf_counter()
    await create_containers(args.containers, ingest, args.concurrency, stats, "b")
    print_ingest("(b) ingest, no scheduler running", stats, args.containers,
                 time.perf_counter() - started)  # fmt: skip
    launched = time.perf_counter()
    await asyncio.to_thread(start)
    first, last = await wait_drained(db, args.containers)
    print_rate(
        f"(c) backlog drain by {args.schedulers} scheduler replica(s)", args.containers,
        last - first, f"replica start to ready {time.perf_counter() - launched:.1f} s is not "
        "counted: from the last look that saw none placed to the first that saw all; looks "
        "every 0.1 s, so a drain of a few seconds or less is measured coarsely",
    )  # fmt: skip


async def concurrent(args: argparse.Namespace, ingest: list[int], db: Database) -> None:
    stats = Stats()
    started = time.perf_counter()
    count = args.concurrent_containers
    await create_containers(count, ingest, args.concurrency, stats, "s")
    ingested = time.perf_counter() - started
    _, last = await wait_drained(db, count + 1)
    print_ingest("(d) ingest while the schedulers run", stats, count, ingested)
    print_rate(
        "(d) concurrent placement", count, last - started,
        "from the first create sent to the first look that saw all placed: bounded by "
        "the ingest rate above",
    )  # fmt: skip


def main() -> None:
    args = parse_args()
    name, url = new_database(args.database_url)
    replicas: list[Replica] = []
    db = Database(url)
    print(f"uptime: {os.getloadavg()} (load averages 1/5/15 min) on {os.cpu_count()} cores")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            replicas = start_replicas(args.ingest_replicas, url, Path(tmp), scheduler=False,
                                      batch_size=args.batch_size)  # fmt: skip
            ingest = [r.port for r in replicas]

            def start() -> None:
                replicas.extend(start_replicas(args.schedulers, url, Path(tmp), scheduler=True,
                                               batch_size=args.batch_size, first=100))  # fmt: skip

            asyncio.run(run_all(args, ingest, db, start))
            total = (args.containers if args.mode != "concurrent" else 0) + (
                args.concurrent_containers if args.mode != "backlog" else 0
            )
            print(db.check(total))
    finally:
        db.close()
        for replica in replicas:
            replica.process.terminate()
        for replica in replicas:
            replica.process.wait(15)
        if not args.keep:
            drop_database(args.database_url, name)


StartSchedulers = Callable[[], None]


async def run_all(
    args: argparse.Namespace, ingest: list[int], db: Database, start: StartSchedulers
) -> None:
    print(f"hosts={args.hosts} containers={args.containers} (backlog) + "
          f"{args.concurrent_containers} (concurrent) ingest replicas (--no-scheduler)="
          f"{args.ingest_replicas} scheduler replicas={args.schedulers} "
          f"batch={args.batch_size} concurrency={args.concurrency}")  # fmt: skip
    started = time.perf_counter()
    await register_hosts(args.hosts, ingest, args.concurrency)
    elapsed = time.perf_counter() - started
    print(f"(a) registered {args.hosts} hosts in {elapsed:.1f} s ({args.hosts / elapsed:.0f}/s)")
    if args.mode in ("both", "backlog"):
        await backlog(args, ingest, db, start)
    else:
        await asyncio.to_thread(start)
    if args.mode in ("both", "concurrent"):
        await concurrent(args, ingest, db)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--containers", type=int, default=100000, help="the backlog")
    parser.add_argument(
        "--concurrent-containers", type=int, default=None,
        help="creates of the concurrent mode (default: a tenth of --containers, at least "
        "1000): its rate is the ingest rate, a sample shows it",
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=64, help="creates in flight")
    parser.add_argument("--ingest-replicas", type=int, default=2)
    parser.add_argument("--schedulers", type=int, default=1, help="replicas that place")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--mode", choices=["both", "backlog", "concurrent"], default="both")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "DOCKYARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.concurrent_containers is None:
        args.concurrent_containers = max(1000, args.containers // 10)
    return args


if __name__ == "__main__":
    main()
