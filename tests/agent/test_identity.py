"""Host identity through real `dockyard api` and `dockyard agent` processes (hollow hosts).

One control plane (SQLite unless DOCKYARD_TEST_DATABASE_URL is set) per module; each test
starts its own agents under names of its own, so tests do not see each other's hosts.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.database import fresh_database
from tests.support.parts import JOIN_TOKEN, ApiPart, Part, agent_part
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_for, wait_status
from tests.support.zun import assert_zun_error, unique_name


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiPart]:
    workdir = tmp_path_factory.mktemp("identity")
    with fresh_database(workdir) as url:
        part = ApiPart(workdir, url).start()
        yield part
        part.stop()


@pytest.fixture
def http(control_plane: ApiPart) -> Iterator[httpx.Client]:
    with control_plane.client() as client:
        yield client


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[list[Part]]:
    started: list[Part] = []
    yield started
    for part in started:
        part.stop()


def start_agent(
    agents: list[Part], control_plane: ApiPart, state_dir: Path, *args: str, **env: str
) -> Part:
    part = agent_part(state_dir.parent, [control_plane.url], "--state-dir", str(state_dir),
                      "--runtime", "fake", *args, **env)  # fmt: skip
    part.spawn()
    agents.append(part)
    return part


def host_named(http: httpx.Client, name: str) -> dict[str, Any] | None:
    for host in http.get("/v1/hosts").json()["hosts"]:
        if host["hostname"] == name:
            return dict(host)
    return None


def wait_host(http: httpx.Client, name: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_for(lambda: host_named(http, name), what=f"host {name}")
    return found


def identity_of(state_dir: Path) -> dict[str, str]:
    path = state_dir / "identity.json"
    wait_for(path.exists, what=f"{path}")
    data: dict[str, str] = json.loads(path.read_text())
    return data


def agent_call(url: str, host_uuid: str, credential: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {credential}"} if credential is not None else {}
    return httpx.post(f"{url}/agent/v1/hosts/{host_uuid}/heartbeat", headers=headers, timeout=10)


def test_api_refuses_to_start_without_a_join_token(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dockyard", "api", "--port", "1", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "join token" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_agent_joins_stores_its_identity_privately_and_keeps_it_across_restarts(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("joiner")
    state = tmp_path / "state"
    first = start_agent(agents, control_plane, state, "--name", name)
    host = wait_host(http, name)
    identity = identity_of(state)
    assert identity["uuid"] == host["uuid"]
    assert stat.S_IMODE((state / "identity.json").stat().st_mode) == 0o600
    assert JOIN_TOKEN not in (state / "identity.json").read_text()
    assert agent_call(control_plane.url, host["uuid"], identity["credential"]).status_code == 204

    container = http.post(
        "/v1/containers?run=true", json={"image": "busybox", "command": SLEEP_FOREVER}
    )
    assert container.status_code == 202, container.text
    wait_status(http, container.json()["uuid"], "Running")
    first.stop()

    start_agent(agents, control_plane, state, "--name", name)
    wait_for(lambda: "host " in agents[-1].log() or agents[-1].log(), what="second agent log")
    # Same host: one row of that name, same uuid, same credential, its container still its own.
    wait_for(lambda: identity_of(state) == identity, what="identity kept")
    assert [h["uuid"] for h in http.get("/v1/hosts").json()["hosts"] if h["hostname"] == name] == [
        host["uuid"]
    ]
    shown = http.get(f"/v1/containers/{container.json()['uuid']}").json()
    assert shown["host"] == name
    assert "credential" not in json.dumps(http.get(f"/v1/hosts/{host['uuid']}").json())
    http.delete(f"/v1/containers/{container.json()['uuid']}?force=true")


def test_another_hosts_uuid_is_403_and_no_or_bad_credential_is_401(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("pair")
    state = tmp_path / "state"
    start_agent(agents, control_plane, state, "--name", name, "--hosts", "2")
    one, two = (identity_of(state / "hosts" / f"{name}-{i:04d}") for i in range(2))
    assert one["uuid"] != two["uuid"]
    assert one["credential"] != two["credential"]
    url = control_plane.url
    assert agent_call(url, one["uuid"], one["credential"]).status_code == 204
    stolen = agent_call(url, two["uuid"], one["credential"])
    assert_zun_error(stolen, 403)
    for path in ("assignments", "reports"):
        method = "GET" if path == "assignments" else "POST"
        response = httpx.request(
            method, f"{url}/agent/v1/hosts/{two['uuid']}/{path}", json={"reports": []},
            headers={"Authorization": f"Bearer {one['credential']}"}, timeout=10,
        )  # fmt: skip
        assert response.status_code == 403, response.text
    assert_zun_error(agent_call(url, one["uuid"], None), 401)
    assert_zun_error(agent_call(url, one["uuid"], "not-a-credential"), 401)
    assert_zun_error(agent_call(url, one["uuid"], JOIN_TOKEN), 401)  # the join token is no key
    joined = httpx.post(f"{url}/agent/v1/hosts", json={}, timeout=10)
    assert joined.status_code in (400, 401)
    assert one["credential"] not in stolen.text


def test_second_agent_with_a_taken_name_is_refused_with_a_clear_message(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("twin")
    start_agent(agents, control_plane, tmp_path / "a", "--name", name)
    original = wait_host(http, name)
    twin = start_agent(agents, control_plane, tmp_path / "b", "--name", name)
    assert twin.wait(30) != 0
    assert f"Host name {name} is already registered" in twin.log()
    assert "--name" in twin.log()
    assert "Traceback" not in twin.log()
    assert not (tmp_path / "b" / "identity.json").exists()
    names = [h["hostname"] for h in http.get("/v1/hosts").json()["hosts"]]
    assert names.count(name) == 1
    assert host_named(http, name)["uuid"] == original["uuid"]  # type: ignore[index]


def test_a_wrong_join_token_makes_no_host(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("intruder")
    part = agent_part(tmp_path, [control_plane.url], "--state-dir", str(tmp_path / "s"),
                      "--runtime", "fake", "--name", name, join_token="wrong-token")  # fmt: skip
    part.spawn()
    agents.append(part)
    assert part.wait(30) != 0
    assert "join token" in part.log()
    assert "wrong-token" not in part.log()
    assert host_named(http, name) is None


def test_rotated_credential_replaces_the_old_one_and_the_agent_carries_on(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("rotor")
    state = tmp_path / "state"
    start_agent(agents, control_plane, state, "--name", name)
    wait_host(http, name)
    old = identity_of(state)
    done = subprocess.run(
        [sys.executable, "-m", "dockyard", "agent", "--control-plane", control_plane.url,
         "--state-dir", str(state), "--rotate-credential"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert old["uuid"] in done.stdout
    new = identity_of(state)
    assert new["uuid"] == old["uuid"]
    assert new["credential"] != old["credential"]
    assert stat.S_IMODE((state / "identity.json").stat().st_mode) == 0o600
    assert_zun_error(agent_call(control_plane.url, old["uuid"], old["credential"]), 401)
    assert agent_call(control_plane.url, new["uuid"], new["credential"]).status_code == 204
    # The running agent takes the new credential from its state dir and keeps beating.
    count = _service(http, name)["report_count"]
    wait_for(lambda: _service(http, name)["report_count"] >= count + 3, what="heartbeats go on")
    assert _service(http, name)["state"] == "up"


def _service(http: httpx.Client, name: str) -> dict[str, Any]:
    for service in http.get("/v1/services").json()["services"]:
        if service["host"] == name:
            return dict(service)
    raise AssertionError(f"no service for {name}")


def test_removing_a_host_finishes_deleted_containers_errors_the_rest_and_kills_its_credential(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("doomed")
    state = tmp_path / "state"
    agent = start_agent(agents, control_plane, state, "--name", name, "--hosts", "1")
    wait_host(http, name)
    identity = identity_of(state)
    body = {"image": "busybox", "command": SLEEP_FOREVER, "host": name}
    kept, gone = (
        http.post("/v1/containers?run=true", json={**body, "name": unique_name(n)}).json()
        for n in ("kept", "gone")
    )
    for container in (kept, gone):
        wait_status(http, container["uuid"], "Running")
        assert http.get(f"/v1/containers/{container['uuid']}").json()["host"] == name
    usage_before = _in_use(http)
    agent.kill9()  # the host dies with the delete still to do
    assert http.delete(f"/v1/containers/{gone['uuid']}?force=true").status_code == 204

    response = http.delete("/v1/services", params={"host": name, "binary": "zun-compute"})
    assert response.status_code == 200, response.text
    assert http.get(f"/v1/containers/{gone['uuid']}").status_code == 404
    shown = http.get(f"/v1/containers/{kept['uuid']}").json()
    assert shown["status"] == "Error"
    assert name in shown["status_reason"]
    assert "removed" in shown["status_reason"]
    assert shown["host"] is None
    assert _in_use(http)["containers"] == usage_before["containers"] - 1
    assert host_named(http, name) is None
    assert_zun_error(agent_call(control_plane.url, identity["uuid"], identity["credential"]), 401)
    # The owner can still delete what is left, and its quota comes back.
    assert http.delete(f"/v1/containers/{kept['uuid']}").status_code == 204
    assert http.get(f"/v1/containers/{kept['uuid']}").status_code == 404
    assert _in_use(http)["containers"] == usage_before["containers"] - 2
    missing = http.delete("/v1/services", params={"host": name, "binary": "zun-compute"})
    assert_zun_error(missing, 404)


def _in_use(http: httpx.Client) -> dict[str, Any]:
    usages = http.get("/v1/quotas/default?usages=True").json()
    return {key: value["in_use"] for key, value in usages.items()}


def test_a_removed_host_agent_stops_and_says_how_to_rejoin(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("evicted")
    state = tmp_path / "state"
    agent = start_agent(agents, control_plane, state, "--name", name)
    wait_host(http, name)
    assert (
        http.delete("/v1/services", params={"host": name, "binary": "zun-compute"}).status_code
        == 200
    )
    assert agent.wait(30) != 0
    assert str(state / "identity.json") in agent.log()
    assert host_named(http, name) is None  # it did not come back by itself


def test_hollow_hosts_each_join_with_their_own_identity(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name = unique_name("hollow")
    state = tmp_path / "state"
    count = 20
    start_agent(agents, control_plane, state, "--name", name, "--hosts", str(count),
                "--availability-zone", "az-hollow", "--label", "rack=r1")  # fmt: skip
    names = {f"{name}-{i:04d}" for i in range(count)}
    wait_for(
        lambda: names <= {h["hostname"] for h in http.get("/v1/hosts").json()["hosts"]},
        what="every hollow host",
    )
    identities = [identity_of(state / "hosts" / n) for n in sorted(names)]
    assert len({i["uuid"] for i in identities}) == count
    assert len({i["credential"] for i in identities}) == count
    hosts = [h for h in http.get("/v1/hosts").json()["hosts"] if h["hostname"] in names]
    assert {h["uuid"] for h in hosts} == {i["uuid"] for i in identities}
    assert all(h["labels"] == {"rack": "r1"} for h in hosts)
    zones = http.get("/v1/availability_zones").json()["availability_zones"]
    assert {"availability_zone": "az-hollow"} in zones


def test_removing_a_host_with_a_capsule_is_never_a_500_even_while_creates_race_it(
    control_plane: ApiPart, http: httpx.Client, agents: list[Part], tmp_path: Path
) -> None:
    name, zone = unique_name("podhost"), unique_name("az-pod")
    start_agent(agents, control_plane, tmp_path / "state", "--name", name,
                "--availability-zone", zone)  # fmt: skip
    wait_host(http, name)
    member = {"image": "busybox", "command": SLEEP_FOREVER}

    def capsule(prefix: str) -> httpx.Response:
        spec = {"containers": [member]}
        template = {"kind": "capsule", "metadata": {"name": unique_name(prefix)}, "spec": spec,
                    "availabilityZone": zone}  # fmt: skip
        return http.post("/v1/capsules", json={"template": template})

    placed = capsule("pod")
    assert placed.status_code == 202, placed.text
    uuid = placed.json()["uuid"]
    wait_for(lambda: http.get(f"/v1/capsules/{uuid}").json()["status"] == "Running", 30,
             what="the capsule to run")  # fmt: skip

    with ThreadPoolExecutor(4) as pool:  # creates that may land on it while it goes
        racing = [pool.submit(capsule, f"race{i}") for i in range(3)]
        removed = http.delete("/v1/services", params={"host": name, "binary": "zun-compute"})
        answers = [future.result() for future in racing]
    assert removed.status_code == 200, removed.text
    assert all(a.status_code < 500 for a in answers), [a.text for a in answers]
    assert host_named(http, name) is None
    shown = http.get(f"/v1/capsules/{uuid}").json()
    assert shown["status"] == "Error", shown
    assert shown["host"] is None
    for made in [placed, *answers]:
        if made.status_code == 202:  # what is left can still be deleted by its owner
            deleted = http.delete(f"/v1/capsules/{made.json()['uuid']}")
            assert deleted.status_code == 204, deleted.text
