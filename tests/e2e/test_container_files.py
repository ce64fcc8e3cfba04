"""Archives and commit through the real clients: `openstack appcontainer cp` both ways,
python-zunclient's get_archive/put_archive (raw before 1.25, base64 from it), `top` with
ps_args, and the bad-input cases as Zun-format 4xx that leave nothing behind."""

from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from zunclient import exceptions as zunexc
from zunclient.v1.client import Client

from tests.support.osc import Osc
from tests.support.server import DockyardProcess
from tests.support.wait import wait_status
from tests.support.zun import (
    assert_zun_error,
    execute_ok,
    remove_container,
    run_container,
    unique_name,
)
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine
V = {"OpenStack-API-Version": "container 1.40"}


@pytest.fixture(scope="module")
def box(http: httpx.Client) -> Iterator[dict[str, Any]]:
    container = run_container(http, "files")
    yield container
    remove_container(http, container["uuid"])


def tar_of(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def untar(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {
            m.name: extracted.read()
            for m in tar.getmembers()
            if m.isfile() and (extracted := tar.extractfile(m)) is not None
        }


def test_openstack_cp_copies_a_file_into_the_container_and_back_out(
    osc: Osc, http: httpx.Client, box: dict[str, Any], tmp_path: Path
) -> None:
    source = tmp_path / "greeting.txt"
    source.write_bytes(b"hello from the host\n\x01binary\xfe\n")
    osc("cp", str(source), f"{box['name']}:/tmp")
    assert "hello from the host" in execute_ok(http, box["uuid"], "cat /tmp/greeting.txt")
    execute_ok(http, box["uuid"], "sh -c 'echo made inside > /root/inside.txt'")
    out = tmp_path / "out"
    osc("cp", f"{box['name']}:/root/inside.txt", str(out))
    assert (out / "inside.txt").read_bytes() == b"made inside\n"
    osc("cp", f"{box['uuid']}:/tmp/greeting.txt", str(out))
    assert (out / "greeting.txt").read_bytes() == source.read_bytes()


def test_zunclient_archives_are_raw_before_1_25_and_base64_from_it(
    server: DockyardProcess, zun: Client, box: dict[str, Any]
) -> None:
    zun.containers.put_archive(box["uuid"], "/tmp", tar_of("new.txt", b"base64 \xff\x00 way"))
    got = zun.containers.get_archive(box["uuid"], "/tmp/new.txt")
    assert untar(got["data"]) == {"new.txt": b"base64 \xff\x00 way"}
    assert got["stat"]["name"] == "new.txt"
    assert got["stat"]["size"] == len(b"base64 \xff\x00 way")
    old = make_client(server.url, "1.24")
    old.containers.put_archive(box["uuid"], "/tmp", tar_of("old.txt", b"raw way\n"))
    assert untar(old.containers.get_archive(box["uuid"], "/tmp/old.txt")["data"]) == {
        "old.txt": b"raw way\n"
    }
    with pytest.raises(zunexc.BadRequest, match=r"1\.25"):  # binary cannot travel raw
        old.containers.get_archive(box["uuid"], "/tmp/new.txt")


def test_top_with_ps_args_answers_zuns_shape(zun: Client, box: dict[str, Any]) -> None:
    plain = zun.containers.top(box["uuid"])
    assert set(plain) == {"Titles", "Processes"}
    assert "PID" in plain["Titles"]
    wide = zun.containers.top(box["uuid"], ps_args="-o pid,comm")
    assert wide["Titles"] == ["PID", "COMMAND"]
    assert all(len(row) == 2 for row in wide["Processes"])
    assert any(row[1] == "sh" for row in wide["Processes"])
    with pytest.raises(zunexc.BadRequest):
        zun.containers.top(box["uuid"], ps_args="--no-such-option")


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status"),
    [
        ("GET", "get_archive", {"path": "/no/such/file"}, None, 404),
        ("GET", "get_archive", {}, None, 400),
        ("GET", "get_archive", {"path": "relative/path"}, None, 400),
        ("POST", "put_archive", {"path": "/no/such/dir"}, {"data": "VALID"}, 404),
        ("POST", "put_archive", {"path": "/etc/passwd"}, {"data": "VALID"}, 400),
        ("POST", "put_archive", {"path": "/tmp"}, {"data": "not base64 !!"}, 400),
        ("POST", "put_archive", {"path": "/tmp"}, {"data": "bm90IGEgdGFy"}, 400),
        ("POST", "put_archive", {"path": "/tmp"}, {}, 400),
        ("POST", "commit", {}, None, 400),
        ("POST", "commit", {"repository": "Not/Valid:x:y"}, None, 400),
        ("POST", "commit", {"repository": "fine/name", "tag": "bad tag!"}, None, 400),
        ("POST", "commit", {"repository": "fine/name:v1", "tag": "v2"}, None, 400),
    ],
)
def test_bad_archive_and_commit_input_is_a_zun_error(
    http: httpx.Client,
    box: dict[str, Any],
    method: str,
    path: str,
    params: dict[str, str],
    body: dict[str, str] | None,
    status: int,
) -> None:
    if body and body.get("data") == "VALID":
        body = {"data": base64.b64encode(tar_of("x.txt", b"x")).decode()}
    url = f"/v1/containers/{box['uuid']}/{path}"
    response = http.request(method, url, params=params, json=body, headers=V)
    assert_zun_error(response, status)
    if path == "put_archive":  # nothing extracted anywhere
        assert "x.txt" not in execute_ok(http, box["uuid"], "ls /tmp /")
    if path == "commit":  # no image record, no image
        images = http.get("/v1/images", headers=V).json()["images"]
        assert not [i for i in images if i["repo"] == "fine/name"], images


def test_archives_and_commit_of_a_container_in_error_are_conflicts(
    http: httpx.Client,
) -> None:
    body = {
        "name": unique_name("files-err"), "image": "dockyard-test/never-built:1",
        "image_pull_policy": "never",
    }  # fmt: skip
    created = http.post("/v1/containers?run=true", json=body, headers=V)
    assert created.status_code == 202, created.text
    uuid = created.json()["uuid"]
    try:
        wait_status(http, uuid, "Error", timeout=60)
        base = f"/v1/containers/{uuid}"
        assert_zun_error(
            http.get(f"{base}/get_archive", params={"path": "/"}, headers=V),
            409, "container.invalid-state-exception",
        )  # fmt: skip
        refused = http.post(
            f"{base}/put_archive", params={"path": "/tmp"}, json={"data": "eA=="}, headers=V
        )
        assert_zun_error(refused, 409, "container.invalid-state-exception")
        committed = http.post(f"{base}/commit", params={"repository": "x/y"}, headers=V)
        assert_zun_error(committed, 409, "container.invalid-state-exception")
    finally:
        remove_container(http, uuid)


def test_commit_makes_an_image_a_new_container_runs_with_the_change(
    osc: Osc, zun: Client, http: httpx.Client, box: dict[str, Any]
) -> None:
    repository = f"dockyard-test/commit-{unique_name('img')}"
    execute_ok(http, box["uuid"], "sh -c 'echo committed change > /root/mark'")
    printed = osc("commit", box["name"], f"{repository}:v2")
    assert "has been accepted" in printed, printed
    image_uuid = printed.strip().rsplit(" ", 1)[-1].rstrip(".")
    record = http.get(f"/v1/images/{image_uuid}", headers=V).json()
    assert (record["repo"], record["tag"], record["status"]) == (repository, "v2", "Pulled")
    assert record["host"] == http.get(f"/v1/containers/{box['uuid']}", headers=V).json()["host"]
    actions = [a.action for a in zun.actions.list(box["uuid"])]
    assert "commit" in actions
    child = run_container(http, "from-commit", image=f"{repository}:v2")
    try:
        assert execute_ok(http, child["uuid"], "cat /root/mark") == "committed change"
    finally:
        remove_container(http, child["uuid"])
        deleted = http.delete(f"/v1/images/{image_uuid}", headers=V)
        assert deleted.status_code == 200, deleted.text


def test_commit_through_zunclient_answers_the_image_uuid(
    zun: Client, http: httpx.Client, box: dict[str, Any]
) -> None:
    repository = f"dockyard-test/commit-{unique_name('zc')}"
    reply = zun.containers.commit(box["uuid"], repository)  # no tag: latest
    record = http.get(f"/v1/images/{reply['uuid']}", headers=V).json()
    assert (record["repo"], record["tag"]) == (repository, "latest")
    assert record["image_id"].startswith("sha256:")
    assert http.delete(f"/v1/images/{reply['uuid']}", headers=V).status_code == 200
