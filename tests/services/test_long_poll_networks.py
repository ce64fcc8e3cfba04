"""A long-poll's batch whose networks were computed before a change that may move them
(a create committing between the computation and the batch's read) must not leave the
agent waiting for them until its long-poll times out: the next ask computes them again."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dockyard.domain.tenancy import RequestContext
from dockyard.schemas.containers import ContainerCreate
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration

ADMIN = RequestContext(project_id="p-lp", user_id="u", roles=frozenset({"admin"}), policy=Policy())
WAIT = 3.0


def _spec(name: str) -> ContainerCreate:
    return ContainerCreate(
        name=name, image="img", command=["true"], cpu=0.1, memory=16, sandbox_mode="standalone"
    )


async def _placed(stack: Stack, name: str) -> str:
    row = await stack.containers.create(ADMIN, _spec(name), run=True, legacy_command=False)
    (row,) = await stack.placed(ADMIN, row)
    assert row.host_uuid is not None
    return row.uuid


async def test_networks_computed_before_a_create_in_the_batch_come_at_the_next_ask(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = (await stack.hosts.register(registration(cpus=4, mem_total=4096))).uuid
    await _placed(stack, "first")
    known = await stack.hosts.assignments(host, 0, 0, full=True)
    assert known.networks is not None
    computed = stack.hosts._networks_now
    slipped: list[str] = []

    async def then_a_create(host_uuid: str, **kwargs: Any) -> Any:
        networks = await computed(host_uuid, **kwargs)
        if not slipped:  # a create commits after the computation, before the batch's read
            slipped.append(await _placed(stack, "second"))
        return networks

    monkeypatch.setattr(stack.hosts, "_networks_now", then_a_create)
    batch = await stack.hosts.assignments(host, known.revision, 0)  # no wait: computed first
    assert [c.uuid for c in batch.containers] == slipped  # its revision is past them
    began = time.monotonic()
    following = await stack.hosts.assignments(host, batch.revision, WAIT)
    assert time.monotonic() - began < WAIT / 2  # not at the long-poll's timeout
    assert following.networks is not None  # with the second container's name (its DNS)
    assert following.networks.revision > batch.revision
