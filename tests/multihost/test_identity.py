"""A host is its credential: same-named agents are never one host; credentials are per host."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.multihost.common import engine_holders, run, wait_settled
from tests.support.multihost import Bed, agent_command, spawn_process, stop_process
from tests.support.wait import wait_for


def test_second_agent_with_the_same_name_is_refused_or_a_second_host(
    bed: Bed, api: httpx.Client, tmp_path: Path
) -> None:
    first = bed.hosts[0]
    original = bed.host_uuid(first)
    # A second machine calling itself the same: a hollow host needs no engine of its own.
    argv = agent_command(bed, first.name, tmp_path / "state", "--runtime", "fake")
    twin = spawn_process(argv, tmp_path / "twin.log", bed.process_env())
    try:

        def named() -> list[str]:
            return [h["uuid"] for h in bed.list_hosts() if h["hostname"] == first.name]

        outcome = wait_for(
            lambda: "refused" if twin.poll() is not None else len(named()) == 2 and "two",
            timeout=30,
            what="the twin to be refused or registered as a host of its own",
        )
        if outcome == "refused":
            said = (tmp_path / "twin.log").read_text()
            assert twin.returncode != 0, said
            assert first.name in said, said
            assert named() == [original]
        else:
            assert original in named()
            assert len(set(named())) == 2
        # Either way the first host is still itself: its containers run once, there.
        pinned = wait_settled(api, run(api, "not-twice", host=original)["uuid"])
        assert pinned["status"] == "Running"
        assert engine_holders(bed, pinned["uuid"]) == [first.name]
    finally:
        stop_process(twin)
        _remove_twin(bed, api, first.name, original)


def _remove_twin(bed: Bed, api: httpx.Client, name: str, original: str) -> None:
    for host in bed.list_hosts():
        if host["hostname"] == name and host["uuid"] != original:
            api.delete("/v1/services", params={"host": host["uuid"], "binary": "zun-compute"})


def test_host_credential_is_refused_for_another_hosts_uuid(bed: Bed) -> None:
    victim = bed.host_uuid(bed.hosts[1])
    with httpx.Client(base_url=bed.apis[1].url, timeout=30) as agent_api:
        joined = agent_api.post(
            "/agent/v1/hosts",
            headers={"Authorization": f"Bearer {bed.token}"},
            json={
                "hostname": f"thief-{bed.suffix}", "agent_url": "http://192.0.2.1:9",
                "agent_token": "t" * 32, "cpus": 1, "mem_total": 64, "disk_total": 1,
            },
        )  # fmt: skip
        assert joined.status_code == 200, joined.text
        own, credential = joined.json()["uuid"], joined.json()["credential"]
        stolen = {"Authorization": f"Bearer {credential}"}
        try:
            own_read = agent_api.get(f"/agent/v1/hosts/{own}/assignments", headers=stolen)
            assert own_read.status_code == 200
            read = agent_api.get(f"/agent/v1/hosts/{victim}/assignments", headers=stolen)
            reported = agent_api.post(
                f"/agent/v1/hosts/{victim}/reports", headers=stolen, json={"reports": []}
            )
            beat = agent_api.post(f"/agent/v1/hosts/{victim}/heartbeat", headers=stolen)
            assert [read.status_code, reported.status_code, beat.status_code] == [403] * 3
            anonymous = agent_api.get(f"/agent/v1/hosts/{victim}/assignments")
            assert anonymous.status_code == 401
        finally:
            with bed.apis[0].client() as api:
                api.delete("/v1/services", params={"host": own, "binary": "zun-compute"})
