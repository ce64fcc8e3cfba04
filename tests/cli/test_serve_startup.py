"""`dockyard serve` as a newcomer meets it: clean start-up lines, one-line errors, clean-up."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from dockyard.agent.netplane import sweep
from dockyard.agent.netplane.shell import Shell
from tests.support.server import LABEL_HOST, DockyardProcess, free_port
from tests.support.wait import wait_for


def serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    return subprocess.run(
        [sys.executable, "-m", "dockyard", "serve", *args], capture_output=True, text=True,
        timeout=60, check=False, cwd=tmp_path, env={**clean, **env},
    )  # fmt: skip


def assert_one_line_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"Error: {message}"], done.stderr


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = serve(tmp_path, "--port", str(port), "--data-dir", str(tmp_path / "data"))
    assert_one_line_error(
        done,
        f"cannot listen for the API on 127.0.0.1:{port}: Address already in use"
        " (is Dockyard already running? choose another with --port)",
    )


def test_no_engine_is_a_one_line_error(tmp_path: Path) -> None:
    engine = f"unix://{tmp_path}/no-engine.sock"
    done = serve(
        tmp_path, "--port", str(free_port()), "--data-dir", str(tmp_path / "data"),
        DOCKYARD_AGENT__DOCKER_URL=engine,
    )  # fmt: skip
    assert_one_line_error(
        done,
        f"no Docker engine answers at {engine}: start one (./dev serve does)"
        " or point DOCKYARD_AGENT__DOCKER_URL at it",
    )


def test_a_data_directory_it_cannot_write_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")  # root may write anywhere, but not below a file
    data_dir = tmp_path / "a-file" / "data"
    done = serve(tmp_path, "--port", str(free_port()), "--data-dir", str(data_dir))
    assert_one_line_error(
        done,
        f"data directory {data_dir} is not writable: Not a directory (choose one with --data-dir)",
    )


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[DockyardProcess]:
    """A `dockyard serve` of its own (a new data directory), stopped by the test.

    On a newcomer's machine: what agents of earlier tests left in the kernel (a stopped
    agent keeps its network objects) is swept first, or serve would rightly warn about it."""
    sweep.sweep(Shell(), None, own="")
    proc = DockyardProcess(tmp_path / "data")
    proc.start()
    yield proc
    proc.stop()
    proc.remove_engine_objects()


def _messages(proc: DockyardProcess) -> list[str]:
    """The log's lines without their time stamps."""
    return [re.sub(r"^\S+ \S+ ", "", line) for line in proc.log_path.read_text().splitlines()]


def test_start_up_says_each_fact_once_and_ready_only_when_it_is(fresh: DockyardProcess) -> None:
    wait_for(lambda: any(m.startswith("INFO dockyard: try:") for m in _messages(fresh)))
    fresh.stop()
    lines = _messages(fresh)
    assert not [line for line in lines if not line.startswith("INFO ")], lines  # no warnings
    assert len(lines) == len(set(lines)), lines  # nothing said twice
    ready = lines.index(f"INFO dockyard: ready: the Zun API is at {fresh.url}/v1")
    registered = next(i for i, m in enumerate(lines) if "joined as host" in m)
    upgrades = [i for i, m in enumerate(lines) if "Running upgrade" in m]
    assert upgrades
    assert max(upgrades) < registered < ready
    assert lines[ready - 1] == f"INFO dockyard: data: {fresh.data_dir.resolve()}"
    assert re.fullmatch(r"INFO dockyard: try: \S*dockyard run --name hello dockyard.local/demo:1",
                        lines[ready + 1])  # fmt: skip
    assert lines[-1] == (
        "INFO dockyard: stopped; containers keep running in the engine"
        " (`dockyard clean` removes them)"
    )


def test_clean_removes_what_serve_left_in_the_engine_and_nothing_else(
    fresh: DockyardProcess,
) -> None:
    engine = docker.from_env()
    other = engine.containers.create(
        "dockyard-test/busybox:1", ["true"], labels={"dockyard-test": "clean"}
    )
    try:
        mine: dict[str, Any] = {"label": f"{LABEL_HOST}={fresh.host_uuid}"}
        wait_for(lambda: len(engine.containers.list(filters=mine)) >= 2, what="the warm pool")
        fresh.stop()
        done = subprocess.run(
            [sys.executable, "-m", "dockyard", "clean", "--data-dir", str(fresh.data_dir), "--yes"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("Removed "), done.stdout
        assert engine.containers.list(all=True, filters=mine) == []
        assert not (fresh.data_dir / "dockyard.db").exists()
        assert not (fresh.data_dir / "agent" / "identity.json").exists()
        other.reload()  # not Dockyard's: still there
    finally:
        other.remove(force=True)
        engine.close()
