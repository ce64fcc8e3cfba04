"""Named volumes over a real database: a volume pins its containers to its host, a mount of
another project's or an unknown volume makes nothing, and an in-use volume stays."""

from __future__ import annotations

import pytest

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import VolumeInUse, VolumeNotFound
from dockyard.schemas.containers import ContainerCreate
from dockyard.schemas.volumes import VolumeCreate
from dockyard.services.policy import Policy
from dockyard.services.volumes import LocalVolumes, VolumeService
from tests.services.conftest import Stack, registration

ADMIN = RequestContext(project_id="p1", user_id="u1", roles=frozenset({"admin"}), policy=Policy())
OTHER = RequestContext(project_id="p2", user_id="u2", roles=frozenset({"member"}), policy=Policy())


def volumes_of(stack: Stack) -> VolumeService:
    containers = stack.containers
    backend = LocalVolumes(containers.directory, containers.hostcalls, stack.settings)
    return VolumeService(containers.sessions, backend)


def mounting(name: str, source: str) -> ContainerCreate:
    return ContainerCreate(
        name=name, image="img", command=["true"], cpu=0.1, memory=16,
        sandbox_mode="standalone", mounts=[{"source": source, "destination": "/data"}],
    )  # fmt: skip


async def test_containers_that_mount_a_named_volume_go_to_its_host(stack: Stack) -> None:
    stack.settings.quota.containers = -1
    hosts = [await stack.hosts.register(registration(f"h{i}", cpus=4)) for i in range(3)]
    volumes = volumes_of(stack)
    on_last = await volumes.create(ADMIN, VolumeCreate(name="data", host="h2"))
    assert on_last.host_uuid == hosts[2].uuid
    rows = [
        await stack.containers.create(ADMIN, mounting(f"c{i}", "data"), run=True,
                                      legacy_command=False)
        for i in range(6)
    ]  # fmt: skip
    placed = await stack.placed(ADMIN, *rows)
    assert {r.host_uuid for r in placed} == {hosts[2].uuid}
    assert all(r.spec.volume_host == hosts[2].uuid for r in placed)
    _, users = await volumes.get(ADMIN, "data")
    assert sorted(users) == sorted(r.uuid for r in rows)
    with pytest.raises(VolumeInUse):
        await volumes.delete(ADMIN, "data")


async def test_a_volume_pins_a_container_even_when_its_host_is_full(stack: Stack) -> None:
    small = await stack.hosts.register(registration("small", cpus=1))
    await stack.hosts.register(registration("big", cpus=8))
    volumes = volumes_of(stack)
    made = await volumes.create(ADMIN, VolumeCreate(name="data", host="small"))
    assert made.host_uuid == small.uuid
    body = mounting("hungry", "data").model_copy(update={"cpu": 2.0})
    row = await stack.containers.create(ADMIN, body, run=True, legacy_command=False)
    (placed,) = await stack.placed(ADMIN, row)
    assert (placed.host_uuid, placed.status) == (None, "Error")  # never on the other host


async def test_another_projects_volume_is_not_found_and_nothing_is_made(stack: Stack) -> None:
    await stack.hosts.register(registration("h", cpus=4))
    volumes = volumes_of(stack)
    mine = await volumes.create(ADMIN, VolumeCreate(name="secret"))
    for ident in ("secret", mine.uuid):
        with pytest.raises(VolumeNotFound):
            await stack.containers.create(OTHER, mounting("thief", ident), run=True,
                                          legacy_command=False)  # fmt: skip
        with pytest.raises(VolumeNotFound):
            await volumes.delete(OTHER, ident)
    assert (
        await stack.containers.list(
            OTHER, {}, limit=10, marker=None, sort_key="id", sort_dir="asc", all_projects=False
        )
        == []
    )
    _, users = await volumes.get(ADMIN, mine.uuid)
    assert users == []
