"""Two `dockyard api` replicas on one PostgreSQL, 200 concurrent creates over HTTP against
registered hosts with little room, placed by both replicas' scheduler loops at once: no host
over its limits, every claim counted once, the rest Error with Zun's reason."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.parts import JOIN_TOKEN, ApiPart
from tests.support.server import V140
from tests.support.wait import wait_for

SERVER = os.environ.get("DOCKYARD_TEST_DATABASE_URL") or (
    "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NO_HOST = "There are not enough hosts available."
# (cpus, MiB) per host; containers ask 0.25 cpu and 64 MiB, ratios are 1.0:
# cpu-bound hosts take 4, memory-bound ones 2 — room for 10 × 4 + 10 × 2 = 60 of 200.
HOSTS = [(1, 1024)] * 10 + [(8, 128)] * 10
CAPACITY = 60


@pytest.fixture
def database() -> Iterator[str]:
    name = f"dockyard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(make_url(SERVER).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")  # fmt: skip
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def replicas(database: str, tmp_path: Path) -> Iterator[list[str]]:
    env = {"DOCKYARD_SCHEDULER__CPU_ALLOCATION_RATIO": "1.0",
           "DOCKYARD_SCHEDULER__RAM_ALLOCATION_RATIO": "1.0",
           "DOCKYARD_SCHEDULER__HOST_DOWN_AFTER": "600",
           "DOCKYARD_QUOTA__CONTAINERS": "-1", "DOCKYARD_QUOTA__CPU": "-1",
           "DOCKYARD_QUOTA__MEMORY": "-1"}  # fmt: skip
    parts = [ApiPart(tmp_path / f"api{i}", database, **env) for i in range(2)]
    try:
        for part in parts:  # one after the other: the first one migrates
            part.start()
        yield [part.url for part in parts]
    finally:
        for part in parts:
            part.stop()


async def _register(url: str) -> None:
    headers = {"Authorization": f"Bearer {JOIN_TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as agent:
        for i, (cpus, memory) in enumerate(HOSTS):
            body = {"hostname": f"small-{i}", "agent_url": "http://127.0.0.1:1",
                    "agent_token": "host-api-secret-0123456789", "cpus": cpus, "mem_total": memory,
                    "disk_total": 10, "runtimes": ["runc"]}  # fmt: skip
            (await agent.post("/agent/v1/hosts", json=body)).raise_for_status()


async def _create_all(urls: list[str]) -> list[dict[str, object]]:
    clients = [httpx.AsyncClient(base_url=u, headers=V140, timeout=120) for u in urls]
    limit = asyncio.Semaphore(100)

    async def create(i: int) -> dict[str, object]:
        body = {"name": f"r{i}", "image": "busybox", "command": ["true"], "cpu": 0.25,
                "memory": 64, "sandbox_mode": "standalone"}  # fmt: skip
        async with limit:
            response = await clients[i % 2].post("/v1/containers", json=body)
        assert response.status_code == 202, response.text
        view: dict[str, object] = response.json()
        return view

    try:
        return await asyncio.gather(*(create(i) for i in range(200)))
    finally:
        for client in clients:
            await client.aclose()


def _unplaced(database: str) -> int:
    engine = create_engine(make_url(database).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        count = conn.execute(text(
            "SELECT count(*) FROM containers WHERE host_uuid IS NULL AND status = 'Creating'"
        )).scalar_one()  # fmt: skip
    engine.dispose()
    return int(count)


def test_two_replicas_never_overcommit_and_claim_each_container_once(
    replicas: list[str], database: str
) -> None:
    asyncio.run(_register(replicas[0]))
    views = asyncio.run(_create_all(replicas))
    assert {v["status"] for v in views} == {"Creating"}  # accepted; the schedulers place them
    wait_for(lambda: _unplaced(database) == 0, what="the schedulers to place every container")
    engine = create_engine(make_url(database).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        hosts = conn.execute(text(
            "SELECT h.hostname, h.cpus, h.mem_total, h.cpu_used, h.mem_used, "
            "count(c.uuid), coalesce(sum(c.cpu), 0), coalesce(sum(c.memory), 0) "
            "FROM hosts h LEFT JOIN containers c ON c.host_uuid = h.uuid "
            "GROUP BY h.uuid ORDER BY h.hostname"
        )).all()  # fmt: skip
        rows = conn.execute(
            text("SELECT uuid, host_uuid, status, status_reason FROM containers")
        ).all()
    engine.dispose()
    assert len(rows) == 200
    assert len({r.uuid for r in rows}) == 200
    assert sum(1 for r in rows if r.host_uuid) == CAPACITY  # every bit of room is used
    refused = [r for r in rows if not r.host_uuid]
    assert {(r.status, r.status_reason) for r in refused} == {("Error", NO_HOST)}
    for name, cpus, mem_total, cpu_used, mem_used, count, cpu_sum, mem_sum in hosts:
        assert cpu_used <= cpus + 1e-9, name  # never over
        assert mem_used <= mem_total, name
        assert cpu_used == pytest.approx(float(cpu_sum)), name  # once
        assert mem_used == mem_sum, name
        assert count == min(int(cpus / 0.25), mem_total // 64), name  # and full
