"""Migration 0015 folds the duplicate defaults a race made before it, then indexes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import create_engine, insert, select

from dockyard.db.engine import alembic_config, sync_url, upgrade_to_head
from dockyard.db.networks_tables import (
    NetworkRow,
    PortRow,
    SecurityGroupRow,
    SecurityGroupRuleRow,
    SubnetRow,
)
from tests.support.database import fresh_database

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _at(minutes: int) -> dict[str, Any]:
    return {"created_at": T0 + timedelta(minutes=minutes), "updated_at": T0}


def _seed(conn: Any) -> None:
    networks, subnets = NetworkRow, SubnetRow
    groups, rules, ports = SecurityGroupRow, SecurityGroupRuleRow, PortRow
    for uuid, project, vni, minute in (
        ("n-old", "p1", 11, 1),
        ("n-new", "p1", 12, 2),
        ("n-p2", "p2", 13, 3),
    ):
        conn.execute(
            insert(networks).values(
                uuid=uuid,
                project_id=project,
                name="default",
                vni=vni,
                is_default=True,
                **_at(minute),
            )
        )
        conn.execute(
            insert(subnets).values(
                uuid=f"s-{uuid}",
                project_id=project,
                network_uuid=uuid,
                cidr="10.224.0.0/16",
                **_at(minute),
            )
        )
    for uuid, name, minute in (
        ("g-old", "default", 1),
        ("g-new", "default", 2),
        ("g-web", "web", 3),
    ):
        conn.execute(insert(groups).values(uuid=uuid, project_id="p1", name=name, **_at(minute)))
    for uuid, group, remote in (
        ("r-old", "g-old", "g-old"),
        ("r-new", "g-new", "g-new"),
        ("r-web", "g-web", "g-new"),
    ):
        conn.execute(
            insert(rules).values(
                uuid=uuid,
                project_id="p1",
                security_group_uuid=group,
                direction="ingress",
                ethertype="IPv4",
                remote_group_uuid=remote,
                created_at=T0,
            )
        )
    conn.execute(
        insert(ports).values(
            uuid="port",
            project_id="p1",
            network_uuid="n-new",
            subnet_uuid="s-n-new",
            ip_address="10.224.0.9",
            mac_address="02:00:00:00:00:09",
            security_groups=["g-new", "g-web"],
            **_at(4),
        )
    )


def test_duplicate_defaults_are_folded_into_the_oldest(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        command.upgrade(alembic_config(url), "0014_volumes")
        engine = create_engine(sync_url(url))
        try:
            with engine.begin() as conn:
                _seed(conn)
            upgrade_to_head(url)
            with engine.connect() as conn:
                defaults = (
                    conn.execute(
                        select(NetworkRow.uuid)
                        .where(NetworkRow.is_default.is_(True))
                        .order_by(NetworkRow.uuid)
                    )
                    .scalars()
                    .all()
                )
                networks = conn.execute(select(NetworkRow.uuid)).scalars().all()
                groups = conn.execute(select(SecurityGroupRow.uuid)).scalars().all()
                rules = dict(
                    conn.execute(
                        select(SecurityGroupRuleRow.uuid, SecurityGroupRuleRow.remote_group_uuid)
                    ).all()
                )
                port = conn.execute(select(PortRow.security_groups)).scalar_one()
        finally:
            engine.dispose()
    assert defaults == ["n-old", "n-p2"]  # one per project: the oldest stays the default
    assert sorted(networks) == ["n-new", "n-old", "n-p2"]  # the other stays, a plain network
    assert sorted(groups) == ["g-old", "g-web"]  # the duplicate group goes ...
    assert port == ["g-old", "g-web"]  # ... its members move to the one kept
    assert rules == {"r-old": "g-old", "r-web": "g-old"}  # and rules naming it name that one
