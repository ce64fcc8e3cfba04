"""The container spec is stored whole, handed to the agent whole, and migrated both ways."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine as create_sync_engine

from dockyard.db.engine import (
    alembic_config,
    create_engine,
    session_factory,
    sync_url,
    transaction,
    upgrade_to_head,
)
from dockyard.db.tables import SPEC_COLUMNS, ContainerRow, utcnow
from dockyard.domain.containerspec import (
    ContainerSpec,
    Healthcheck,
    InjectedFile,
    RestartPolicy,
    VolumeMount,
)
from dockyard.schemas.agent import Assignment
from dockyard.services.hosts import assignment_of
from tests.support.database import fresh_database

# Every field away from its default, so a layer that dropped one would be seen.
FULL = ContainerSpec(
    image="img:1", command=["sleep", "9"], entrypoint=["sh", "-c"], environment={"A": "1"},
    labels={"l": "v"}, workdir="/w", hostname="h", cpu=0.5, memory=96, disk=1,
    restart_policy=RestartPolicy("on-failure", 2), auto_remove=True, auto_heal=True,
    interactive=True, tty=True, privileged=True, exposed_ports=["80/tcp"],
    healthcheck=Healthcheck("true", 1, 2, 3), image_pull_policy="always",
    image_driver="glance", runtime="runc", cpu_policy="dedicated", hints={"k": "v"},
    availability_zone="az", requested_host="h1",
    volume_mounts=[
        VolumeMount("vol", "/data", True, volume_uuid="6f1c1e6e-0000-4000-8000-0000000000aa"),
        VolumeMount("", "/scratch", size=2),
    ],
    injected_files=[InjectedFile("/etc/app.conf", "aGk=")],
    volume_host="6f1c1e6e-0000-4000-8000-0000000000bb",
    registry_id="6f1c1e6e-0000-4000-8000-000000000001", security_groups=["default", "web"],
)  # fmt: skip


def test_the_full_spec_sets_every_field_away_from_its_default() -> None:
    bare = ContainerSpec(image="")
    same = [
        f.name for f in dataclasses.fields(FULL) if getattr(FULL, f.name) == getattr(bare, f.name)
    ]
    assert same == []


def _row(spec: ContainerSpec) -> ContainerRow:
    return ContainerRow(
        project_id="p", user_id="u", name="c", spec=spec, hostname=spec.hostname,
        desired_state="running", state_requested_at=utcnow(), status="Creating",
    )  # fmt: skip


async def test_spec_is_stored_whole_and_its_query_columns_follow_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'spec.db'}"
    upgrade_to_head(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as session:
            row = _row(FULL)
            session.add(row)
        async with transaction(sessions) as session:
            loaded = await session.get(ContainerRow, row.uuid)
            assert loaded is not None
            assert loaded.spec == FULL
            loaded.spec = dataclasses.replace(loaded.spec, cpu=1.5, memory=128)
        async with sessions() as session:
            resized = await session.get(ContainerRow, row.uuid)
            assert resized is not None
            assert {n: getattr(resized, n) for n in SPEC_COLUMNS} == {
                n: getattr(resized.spec, n) for n in SPEC_COLUMNS
            }
            assert (resized.cpu, resized.memory) == (1.5, 128)
    finally:
        await engine.dispose()


def test_the_agent_receives_the_spec_unchanged() -> None:
    row = _row(FULL)
    row.uuid, row.generation, row.observed_generation = "u1", 1, 0
    row.container_type, row.capsule_order = "container", 0
    wire = assignment_of(row).model_dump_json()
    assert Assignment.model_validate_json(wire).spec == FULL


_OLD_ROW = (
    "INSERT INTO containers (uuid, project_id, user_id, name, image, command, entrypoint,"
    " environment, labels, workdir, hostname, cpu, memory, disk, restart_policy, auto_remove,"
    " auto_heal, interactive, tty, privileged, exposed_ports, healthcheck, image_pull_policy,"
    " image_driver, runtime, cpu_policy, hints, availability_zone, requested_host,"
    " volume_mounts, desired_state, generation, state_requested_at, revision, status,"
    " observed_generation, created_at, updated_at) VALUES ('u1', 'p', 'u', 'old', 'img:1',"
    ' \'["sleep", "9"]\', \'["sh", "-c"]\', \'{"A": "1"}\', \'{"l": "v"}\', \'/w\', \'h\','
    ' 0.5, 96, 1, \'{"Name": "on-failure", "MaximumRetryCount": 2}\', true, true, true,'
    ' true, true, \'["80/tcp"]\', \'{"cmd": "true", "interval": 1, "retries": 2,'
    " \"timeout\": 3}', 'always', 'glance', 'runc', 'dedicated', '{\"k\": \"v\"}', 'az', 'h1',"
    ' \'[{"name": "vol", "destination": "/data", "read_only": true}]\', \'running\', 1,'
    " CURRENT_TIMESTAMP, 0, 'Running', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)
_SELECT_OLD = (
    "SELECT command, entrypoint, environment, labels, workdir, hostname, cpu, memory, disk,"
    " restart_policy, auto_remove, auto_heal, interactive, tty, privileged, exposed_ports,"
    " healthcheck, image_pull_policy, image_driver, runtime, cpu_policy, hints,"
    " availability_zone, requested_host, volume_mounts FROM containers"
)


def _old_columns(url: str) -> tuple[Any, ...]:
    engine = create_sync_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return tuple(conn.exec_driver_sql(_SELECT_OLD).one())
    finally:
        engine.dispose()


async def test_existing_rows_convert_to_a_spec_and_back(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        command.upgrade(alembic_config(url), "0005_pending_containers_index")
        engine = create_sync_engine(sync_url(url))
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(_OLD_ROW)
        finally:
            engine.dispose()
        before = _old_columns(url)
        upgrade_to_head(url)
        engines = create_engine(url)
        try:
            async with session_factory(engines)() as session:
                row = await session.get(ContainerRow, "u1")
                assert row is not None
                # registry_id, the volume fields and security_groups came after the old
                # columns: an old row has none of them
                assert row.spec == dataclasses.replace(
                    FULL, registry_id=None, volume_mounts=[VolumeMount("vol", "/data", True)],
                    injected_files=[], volume_host=None, security_groups=[],
                )  # fmt: skip
        finally:
            await engines.dispose()
        command.downgrade(alembic_config(url), "0005_pending_containers_index")
        assert _old_columns(url) == before
