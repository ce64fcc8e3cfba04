"""Volumes through the real clients on the real engine: named volumes outlive containers,
a size-made volume goes with its container, files are injected, an in-use volume stays."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from zunclient.v1.client import Client

from tests.support.osc import Osc
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import assert_zun_error, unique_name
from tests.support.zunclient import remove, wait_status

pytestmark = pytest.mark.engine


@pytest.fixture
def named(http: httpx.Client) -> Iterator[dict[str, Any]]:
    response = http.post("/v1/volumes", json={"volume": {"name": unique_name("data")}})
    assert response.status_code == 201, response.text
    volume: dict[str, Any] = response.json()["volume"]
    yield volume
    http.delete(f"/v1/volumes/{volume['uuid']}")


def _engine_volume(engine: docker.DockerClient, volume: dict[str, Any]) -> Any:
    return engine.volumes.get(f"dockyard-vol-{volume['uuid']}")


def test_data_written_to_a_named_volume_is_read_by_the_next_container(
    zun: Client, http: httpx.Client, engine: docker.DockerClient, named: dict[str, Any]
) -> None:
    mount = [{"source": named["name"], "destination": "/data"}]
    writer = zun.containers.run(
        name=unique_name("vol-writer"), image=TEST_IMAGE, mounts=mount,
        command=["sh", "-c", "echo kept-across-containers > /data/note"],
    )  # fmt: skip
    wait_status(zun, writer.uuid, "Stopped")
    assert http.get(f"/v1/volumes/{named['uuid']}").json()["volume"]["containers"] == [writer.uuid]
    in_use = http.delete(f"/v1/volumes/{named['name']}")
    assert_zun_error(in_use, 409, "container.volume-in-use")
    remove(zun, writer.uuid)
    reader = zun.containers.run(
        name=unique_name("vol-reader"), image=TEST_IMAGE, mounts=mount,
        command=["cat", "/data/note"],
    )  # fmt: skip
    wait_status(zun, reader.uuid, "Stopped")
    assert (
        zun.containers.logs(reader.uuid, stdout=True, stderr=True).strip()
        == "kept-across-containers"
    )
    labels = _engine_volume(engine, named).attrs["Labels"]
    assert labels["io.dockyard.volume"] == named["uuid"]
    remove(zun, reader.uuid)
    # named: kept after its containers, and no longer in use, so it can go
    assert _engine_volume(engine, named) is not None
    assert http.get(f"/v1/volumes/{named['uuid']}").json()["volume"]["in_use"] is False
    assert http.delete(f"/v1/volumes/{named['uuid']}").status_code == 204
    with pytest.raises(docker.errors.NotFound):
        _engine_volume(engine, named)


def test_a_size_made_volume_is_removed_with_its_container(
    zun: Client, engine: docker.DockerClient
) -> None:
    made = zun.containers.run(
        name=unique_name("vol-scratch"), image=TEST_IMAGE, command=SLEEP_FOREVER,
        mounts=[{"size": "1", "destination": "/scratch"}],
    )  # fmt: skip
    wait_status(zun, made.uuid, "Running")
    out = zun.containers.execute(made.uuid, command="sh -c 'echo x > /scratch/f && cat /scratch/f'")
    assert out["output"].strip() == "x"
    (found,) = engine.containers.list(filters={"label": f"io.dockyard.container={made.uuid}"})
    engine_mounts = found.attrs["Mounts"]
    (scratch,) = [m for m in engine_mounts if m["Destination"] == "/scratch"]
    assert scratch["Type"] == "volume"
    assert engine.volumes.get(scratch["Name"]) is not None
    remove(zun, made.uuid)

    def gone() -> bool:
        try:
            engine.volumes.get(scratch["Name"])
        except docker.errors.NotFound:
            return True
        return False

    wait_for(gone, 30, what="the size-made volume to go with its container")


def test_openstack_run_mounts_a_volume_and_injects_a_file(
    osc: Osc, zun: Client, http: httpx.Client, named: dict[str, Any], tmp_path: Path
) -> None:
    config = tmp_path / "app.conf"
    config.write_text("setting = injected\n")
    name = unique_name("osc-vol")
    printed = json.loads(
        osc("run", "--name", name, "-f", "json",
            "--mount", f"source={named['name']},destination=/data",
            "--mount", f"type=bind,source={config},destination=/etc/app/app.conf",
            TEST_IMAGE, *SLEEP_FOREVER)
    )  # fmt: skip
    try:
        wait_status(zun, printed["uuid"], "Running")
        assert osc("exec", name, "cat", "/etc/app/app.conf").splitlines()[0] == "setting = injected"
        osc("exec", name, "sh", "-c", "echo from-osc > /data/f")
        assert osc("exec", name, "cat", "/data/f").strip() == "from-osc"
        in_use = http.delete(f"/v1/volumes/{named['uuid']}")
        assert_zun_error(in_use, 409, "container.volume-in-use")
    finally:
        remove(zun, printed["uuid"])


def test_zunclient_injects_a_file_from_its_content(zun: Client) -> None:
    made = zun.containers.run(
        name=unique_name("vol-inject"), image=TEST_IMAGE, command=["cat", "/run/cfg/a.txt"],
        mounts=[{"type": "bind", "source": "one\ntwo\n", "destination": "/run/cfg/a.txt"}],
    )  # fmt: skip
    try:
        wait_status(zun, made.uuid, "Stopped")
        assert zun.containers.logs(made.uuid, stdout=True, stderr=True) == "one\ntwo\n"
    finally:
        remove(zun, made.uuid)


def test_a_capsule_shares_a_named_volume_and_its_new_one_goes_with_it(
    zun: Client, http: httpx.Client, engine: docker.DockerClient, named: dict[str, Any]
) -> None:
    name = unique_name("cap-vol")
    mounts = [{"name": "db", "mountPath": "/db"}, {"name": "scratch", "mountPath": "/s"}]
    init = {
        "name": "fill",
        "image": TEST_IMAGE,
        "volumeMounts": mounts,
        "command": ["sh", "-c", "echo from-capsule > /db/f; echo tmp > /s/t"],
    }
    main = {"name": "main", "image": TEST_IMAGE, "command": SLEEP_FOREVER, "volumeMounts": mounts}
    volumes = [
        {"name": "db", "cinder": {"volumeID": named["name"]}},
        {"name": "scratch", "cinder": {"size": 1}},
    ]
    template = {
        "kind": "capsule",
        "metadata": {"name": name},
        "spec": {"initContainers": [init], "containers": [main], "volumes": volumes},
    }
    capsule = zun.capsules.create(template=template)  # fmt: skip
    try:
        running = wait_for(
            lambda: (c := http.get(f"/v1/capsules/{capsule.uuid}").json())["status"] == "Running"
            and c, 60, what="the capsule to run",
        )  # fmt: skip
        (member,) = running["containers"]
        out = zun.containers.execute(member["uuid"], command="cat /db/f /s/t")["output"]
        assert out.split() == ["from-capsule", "tmp"]
        users = http.get(f"/v1/volumes/{named['uuid']}").json()["volume"]["containers"]
        assert member["uuid"] in users
        in_use = http.delete(f"/v1/volumes/{named['uuid']}")
        assert_zun_error(in_use, 409, "container.volume-in-use")
    finally:
        zun.capsules.delete(capsule.uuid)
    wait_for(lambda: http.get(f"/v1/capsules/{capsule.uuid}").status_code == 404, 60,
             what="the capsule to go")  # fmt: skip
    scratch = f"dockyard-{capsule.uuid}-scratch"
    wait_for(lambda: not engine.volumes.list(filters={"name": scratch}), 30, what="scratch gone")
    wait_for(lambda: not http.get(f"/v1/volumes/{named['uuid']}").json()["volume"]["in_use"], 30,
             what="the named volume to be free")  # fmt: skip
    reader = zun.containers.run(
        name=unique_name("after-cap"), image=TEST_IMAGE, command=["cat", "/db/f"],
        mounts=[{"source": named["uuid"], "destination": "/db"}],
    )  # fmt: skip
    try:
        wait_status(zun, reader.uuid, "Stopped")
        assert zun.containers.logs(reader.uuid, stdout=True, stderr=True).strip() == "from-capsule"
    finally:
        remove(zun, reader.uuid)
