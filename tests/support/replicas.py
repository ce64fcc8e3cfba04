"""Two `dockyard api` replicas on one fresh PostgreSQL and a Docker agent joined to one of them:
the bed of the replica tests (a replica killed, console tokens), made and removed alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.database import fresh_postgres
from tests.support.parts import ApiPart, agent_part
from tests.support.server import remove_engine_objects
from tests.support.wait import wait_for


@dataclass(frozen=True)
class Replicas:
    first: ApiPart
    second: ApiPart
    host_uuid: str  # the agent's host


@contextmanager
def two_replicas(
    tmp_path: Path, name: str, agent_on: int, ready_timeout: float = 60.0,
    join_timeout: float = 30.0,
) -> Iterator[Replicas]:  # fmt: skip
    """Both replicas ready and the agent (host `name`) joined through replica `agent_on` (0 or
    1); afterwards every process stops and the agent's engine containers go."""
    host_uuid: str | None = None
    with fresh_postgres() as database:
        # Both start at once on the empty database: one migrates, the other waits for it.
        replicas = (ApiPart(tmp_path / "a", database), ApiPart(tmp_path / "b", database))
        home = replicas[agent_on]
        agent = agent_part(tmp_path, [home.url], "--runtime", "docker", "--name", name,
                           "--state-dir", str(tmp_path / "agent"))  # fmt: skip
        try:
            for replica in replicas:
                replica.spawn()
            for replica in replicas:
                replica.wait_ready(ready_timeout)
            agent.spawn()
            with home.client() as api:
                host_uuid = wait_for(
                    lambda: host_named(api, name), join_timeout, what="the agent to join"
                )
            yield Replicas(replicas[0], replicas[1], str(host_uuid))
        finally:
            agent.stop()
            for replica in replicas:
                replica.stop()
            if host_uuid:
                remove_engine_objects(host_uuid)


def host_named(api: httpx.Client, name: str) -> str | None:
    """The uuid of the host called `name`, once its agent has joined."""
    hosts = api.get("/v1/hosts").json()["hosts"]
    return next((str(h["uuid"]) for h in hosts if h["hostname"] == name), None)
