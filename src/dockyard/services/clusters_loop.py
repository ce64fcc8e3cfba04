"""Each replica's cluster controller loop: lease clusters, step each, give the leases back.

Leases (db/repositories/clusters.LeaseRepository) are taken with SKIP LOCKED, as the batch
scheduler takes pending containers, so replicas on one PostgreSQL work on disjoint clusters
and a replica that dies only delays its clusters until its leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import timedelta

from dockyard.background import cancel_and_wait
from dockyard.db.engine import Sessions, transaction
from dockyard.db.repositories.clusters import LeaseRepository
from dockyard.db.tables import utcnow
from dockyard.services.clusters_controller import Controller

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between looks at every cluster (health, converging members)
LEASE = timedelta(seconds=30)  # longer than any step; a dead replica's clusters wait this long
BATCH = 50  # clusters leased at once


class ClusterLoop:
    def __init__(self, sessions: Sessions, controller: Controller) -> None:
        self._sessions = sessions
        self._controller = controller
        self.owner = f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dockyard-clusters")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def wake(self) -> None:
        """A request changed a cluster here: look now rather than at the next tick."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:  # a lost database: try again at the next tick
                log.exception("cluster controller pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK)

    async def run_once(self) -> int:
        """One step of every cluster this replica could lease; how many it stepped."""
        now = utcnow()
        async with transaction(self._sessions) as session:
            ids = await LeaseRepository(session).take(self.owner, now, now + LEASE, BATCH)
        for cluster_id in ids:
            try:
                await self._controller.step(cluster_id)
            except Exception:  # one cluster's failure must not stop the others
                log.exception("cluster %s: controller step failed", cluster_id)
            finally:
                async with transaction(self._sessions) as session:
                    await LeaseRepository(session).release(self.owner, cluster_id, None)
        return len(ids)
