"""Concurrent creates through both replicas never over-commit a host or place twice."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.multihost.common import NO_HOST, engine_holders, run, wait_settled
from tests.support.multihost import Bed

CREATES = 30
HOST_CPU_LIMIT = 4.0  # 2 CPUs at the bed's allocation ratio of 2


def test_concurrent_creates_through_two_replicas_never_over_commit(
    bed: Bed, api: httpx.Client
) -> None:
    # 1 CPU each (+0.01 for its sandbox): exactly 3 fit on each host, 9 in all.
    clients = [replica.client() for replica in bed.apis]
    try:
        with ThreadPoolExecutor(10) as pool:
            created = list(
                pool.map(lambda i: run(clients[i % 2], f"burst-{i}", cpu=1.0), range(CREATES))
            )
    finally:
        for client in clients:
            client.close()
    shown = [wait_settled(api, c["uuid"]) for c in created]
    running = [c for c in shown if c["status"] == "Running"]
    refused = [c for c in shown if c["status"] == "Error"]
    assert {c["status_reason"] for c in refused} == {NO_HOST}
    assert len(running) == 9
    assert len(refused) == CREATES - 9
    assert Counter(c["host"] for c in running) == Counter({h.name: 3 for h in bed.hosts})
    for host in api.get("/v1/hosts").json()["hosts"]:
        assert host["cpu_used"] <= HOST_CPU_LIMIT, host
    for container in running:  # each placed once, running on the host the API names
        assert engine_holders(bed, container["uuid"]) == [container["host"]]
    for container in refused:
        assert engine_holders(bed, container["uuid"]) == []
