"""`openstack appcontainer host|service|availability zone …` (the real OSC + zunclient)
against `dockyard api` with a hollow-host agent; and what enable/disable/force-down mean
for placement."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.database import fresh_database
from tests.support.osc import Osc
from tests.support.parts import ApiPart, Part, agent_part
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_for, wait_status
from tests.support.zun import unique_name

NAME = unique_name("osc")
HOSTS = [f"{NAME}-{i:04d}" for i in range(3)]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiPart, Part]]:
    workdir = tmp_path_factory.mktemp("osc-services")
    with fresh_database(workdir) as url:
        api = ApiPart(workdir, url).start()
        agent = agent_part(workdir, [api.url], "--runtime", "fake", "--hosts", "3",
                           "--name", NAME, "--availability-zone", "zone-a",
                           "--state-dir", str(workdir / "state"))  # fmt: skip
        agent.spawn()
        try:
            with api.client() as http:
                wait_for(lambda: len(http.get("/v1/hosts").json()["hosts"]) == 3, what="3 hosts")
            yield api, agent
        finally:
            agent.stop()
            api.stop()


@pytest.fixture(scope="module")
def osc(deployment: tuple[ApiPart, Part], tmp_path_factory: pytest.TempPathFactory) -> Osc:
    return Osc(deployment[0].url, tmp_path_factory.mktemp("osc-home"))


@pytest.fixture(scope="module")
def http(deployment: tuple[ApiPart, Part]) -> Iterator[httpx.Client]:
    with deployment[0].client() as client:
        yield client


def _by_host(rows: list[dict[str, Any]], key: str = "Host") -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def test_host_list_and_show(osc: Osc, http: httpx.Client) -> None:
    listed = _by_host(osc.json("host", "list"), "hostname")
    assert set(listed) == set(HOSTS)
    uuid = listed[HOSTS[0]]["uuid"]
    shown = osc.json("host", "show", uuid)
    assert shown["hostname"] == HOSTS[0]
    assert shown["uuid"] == uuid
    assert shown["total_containers"] == 0
    assert shown["mem_total"] > 0
    assert osc.json("host", "show", HOSTS[1])["hostname"] == HOSTS[1]  # by name too
    paged = http.get("/v1/hosts", params={"limit": 2}).json()
    assert [h["hostname"] for h in paged["hosts"]] == sorted(HOSTS)[:2]
    assert paged["next"]


def test_service_list_shows_every_host_up_with_its_zone(osc: Osc) -> None:
    services = _by_host(osc.json("service", "list"))
    assert set(services) == set(HOSTS)
    for row in services.values():
        assert row["Binary"] == "zun-compute"
        assert row["State"] == "up"
        assert row["Disabled"] is False
        assert row["Availability Zone"] == "zone-a"
    zones = osc.json("availability", "zone", "list")
    assert zones == [{"availability_zone": "zone-a"}]


def test_disabled_and_forced_down_hosts_get_no_new_containers(osc: Osc, http: httpx.Client) -> None:
    disabled, forced, open_host = HOSTS
    shown = osc.json("service", "disable", disabled, "zun-compute", "--reason", "maintenance")
    assert shown == {"Host": disabled, "Binary": "zun-compute", "Disabled": True,
                     "Disabled Reason": "maintenance"}  # fmt: skip
    down = osc.json("service", "forcedown", forced, "zun-compute")
    assert down == {"Host": forced, "Binary": "zun-compute", "Forced_down": True}
    services = _by_host(osc.json("service", "list"))
    assert services[disabled]["Disabled"] is True
    assert services[disabled]["Disabled Reason"] == "maintenance"
    assert services[forced]["State"] == "down"
    try:
        placed = set()
        for _ in range(4):
            body = {"image": "busybox", "command": SLEEP_FOREVER}
            created = http.post("/v1/containers?run=true", json=body).json()
            placed.add(wait_status(http, created["uuid"], "Running")["host"])
            http.delete(f"/v1/containers/{created['uuid']}?force=true")
        assert placed == {open_host}
    finally:
        enabled = osc.json("service", "enable", disabled, "zun-compute")
        assert enabled["Disabled"] is False
        assert enabled["Disabled Reason"] is None
        up = osc.json("service", "forcedown", "--unset", forced, "zun-compute")
        assert up["Forced_down"] is False
    services = _by_host(osc.json("service", "list"))
    assert services[forced]["State"] == "up"
    assert services[disabled]["Disabled"] is False


def test_unknown_service_is_a_clear_404(http: httpx.Client) -> None:
    response = http.put("/v1/services/disable", params={"host": "nowhere", "binary": "zun-compute"})
    assert response.status_code == 404
    assert "nowhere" in response.json()["errors"][0]["detail"]
    params = {"host": HOSTS[0], "binary": "zun-compute", "forced_down": "maybe"}
    bad = http.put("/v1/services/force_down", params=params)
    assert bad.status_code == 400


def test_service_delete_removes_the_host(
    osc: Osc, http: httpx.Client, deployment: tuple[ApiPart, Part]
) -> None:
    victim = HOSTS[2]
    printed = osc("service", "delete", victim, "zun-compute")
    assert "accepted" in printed
    assert victim not in _by_host(osc.json("service", "list"))
    assert victim not in {h["hostname"] for h in http.get("/v1/hosts").json()["hosts"]}
    # The other hollow hosts of that agent process carry on.
    assert deployment[1].process is not None
    assert deployment[1].process.poll() is None
    assert set(_by_host(osc.json("service", "list"))) == set(HOSTS[:2])
