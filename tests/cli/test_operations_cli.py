"""`dockyard cp|commit|top|rebuild` against a real `dockyard serve` and engine."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.cli.conftest import Dockyard
from tests.support.server import DockyardProcess
from tests.support.wait import wait_gone, wait_status

pytestmark = pytest.mark.engine
DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def ok(dockyard: Dockyard, *args: str) -> str:
    result = dockyard(*args)
    assert result.exit_code == 0, result.output + result.stderr
    return result.output


def test_cp_copies_a_directory_in_and_a_file_out(dockyard: Dockyard, tmp_path: Path) -> None:
    name = dockyard.run_sleeper()
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"alpha\n")
    (tree / "sub" / "b.bin").write_bytes(bytes(range(256)))
    ok(dockyard, "cp", str(tree), f"{name}:/tmp")
    assert ok(dockyard, "exec", name, "cat", "/tmp/tree/a.txt") == "alpha\n"
    out = tmp_path / "out"
    ok(dockyard, "cp", f"{name}:/tmp/tree", str(out))
    assert (out / "tree" / "a.txt").read_bytes() == b"alpha\n"
    assert (out / "tree" / "sub" / "b.bin").read_bytes() == bytes(range(256))


def test_cp_to_dash_writes_the_tar_to_stdout(
    dockyard: Dockyard, server: DockyardProcess, tmp_path: Path
) -> None:
    name = dockyard.run_sleeper()
    ok(dockyard, "exec", name, "sh", "-c", "echo piped > /root/p.txt")
    done = subprocess.run(
        [DOCKYARD, "cp", "--url", server.url, f"{name}:/root/p.txt", "-"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        member = tar.extractfile("p.txt")
        assert member is not None
        assert member.read() == b"piped\n"


def test_cp_of_a_missing_path_or_without_a_container_fails_in_one_line(
    dockyard: Dockyard, tmp_path: Path
) -> None:
    name = dockyard.run_sleeper()
    missing = dockyard("cp", f"{name}:/no/such", str(tmp_path))
    assert missing.exit_code == 1
    assert "could not be found" in missing.stderr
    assert "HTTP 404" in missing.stderr
    neither = dockyard("cp", str(tmp_path), str(tmp_path / "x"))
    assert neither.exit_code == 1
    assert "CONTAINER:PATH" in neither.stderr
    into_file = dockyard("cp", str(tmp_path), f"{name}:/etc/passwd")
    assert into_file.exit_code == 1
    assert "not a directory" in into_file.stderr


def test_commit_then_run_the_image_shows_the_change(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    ok(dockyard, "exec", name, "sh", "-c", "echo kept > /root/kept.txt")
    repository = f"dockyard-test/cli-commit-{uuid.uuid4().hex[:8]}"
    image_uuid = ok(dockyard, "commit", name, f"{repository}:v1").strip()
    child = dockyard.name("cli-child")
    ok(dockyard, "run", "--name", child, f"{repository}:v1", "sleep", "300")
    assert ok(dockyard, "exec", child, "cat", "/root/kept.txt") == "kept\n"
    ok(dockyard, "delete", "--force", child)
    wait_gone(dockyard.api, child)  # then its image may go
    assert dockyard.api.delete(f"/v1/images/{image_uuid}").status_code == 200


def test_top_with_ps_args_prints_a_table(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    lines = ok(dockyard, "top", name, "--ps-args", "-o pid,comm").splitlines()
    assert lines[0].split() == ["PID", "COMMAND"]
    assert any(line.split()[-1] == "sh" for line in lines[1:])


def test_rebuild_keeps_the_name_and_uuid_and_waits_until_running(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    before = dockyard.api.get(f"/v1/containers/{name}").json()
    ok(dockyard, "exec", name, "sh", "-c", "echo x > /root/old")
    printed = ok(dockyard, "rebuild", name)
    assert before["uuid"] in printed
    after = wait_status(dockyard.api, name, "Running")
    assert after["uuid"] == before["uuid"]
    assert dockyard("exec", name, "cat", "/root/old").exit_code != 0
