"""`dockyard pull|images|rmi` and `dockyard run` of an image the host lacks: a progress bar
on a terminal (driven through a real pseudo-terminal), plain lines when not a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Dockyard
from tests.support.registry import Registry, build_bulky_image
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, remove_image
from tests.support.wait import wait_gone

pytestmark = pytest.mark.engine
DOCKYARD = str(Path(sys.executable).parent / "dockyard")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    running = Registry(tmp_path_factory.mktemp("cli-registry")).start()
    yield running
    running.stop()


@pytest.fixture
def bulky(registry: Registry) -> Iterator[str]:
    """A 48 MB image that only the registry has: pulling it moves real bytes."""
    local = build_bulky_image(f"dockyard-test/bulky-{uuid.uuid4().hex[:8]}:1", 48)
    ref = registry.push(local, f"dockyard-test/bulky-{uuid.uuid4().hex[:8]}")
    remove_image(local)
    yield ref
    remove_image(ref)


def on_terminal(server: DockyardProcess, *args: str) -> tuple[int, str, str]:
    """Run `dockyard ARGS` with stdout and stderr on pseudo-terminals; (exit, out, err)."""
    out_master, out_slave = pty.openpty()
    err_master, err_slave = pty.openpty()
    env = {**os.environ, "DOCKYARD_URL": server.url, "COLUMNS": "120"}
    process = subprocess.Popen(
        [DOCKYARD, *args], stdin=subprocess.DEVNULL, stdout=out_slave, stderr=err_slave, env=env
    )
    os.close(out_slave)
    os.close(err_slave)
    chunks: dict[int, bytes] = {out_master: b"", err_master: b""}
    open_fds = [out_master, err_master]
    while open_fds:
        ready, _, _ = select.select(open_fds, [], [], 120)
        assert ready, "the CLI went quiet for two minutes"
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the other side closed
                data = b""
            if not data:
                open_fds.remove(fd)
                os.close(fd)
            chunks[fd] += data
    code = process.wait(timeout=60)
    return code, chunks[out_master].decode(), chunks[err_master].decode()


def test_pull_on_a_terminal_draws_a_bar_in_place(
    server: DockyardProcess, api: httpx.Client, bulky: str
) -> None:
    code, out, err = on_terminal(server, "pull", bulky)
    assert code == 0, out + err
    assert "\r" in out  # redrawn in place
    assert "] 100%" in out
    assert "=" * 10 in out
    assert f"{bulky}: pulled" in out
    assert " MB" in out


def test_pull_images_and_rmi_print_plain_lines_when_not_a_terminal(
    dockyard: Dockyard, api: httpx.Client, bulky: str
) -> None:
    pulled = dockyard("pull", bulky)
    assert pulled.exit_code == 0, pulled.output
    assert "\r" not in pulled.output
    assert "\033" not in pulled.output
    lines = pulled.output.splitlines()
    assert lines[-1].startswith(f"{bulky}: pulled, ")
    assert all(line.startswith(f"{bulky}: ") for line in lines)
    listed = dockyard("images")
    assert listed.exit_code == 0, listed.output
    repo = bulky.rsplit(":", 1)[0]
    assert any(repo in line and "Pulled" in line for line in listed.output.splitlines())
    removed = dockyard("rmi", bulky)
    assert removed.exit_code == 0, removed.output
    assert f"Removed {bulky}" in removed.output
    assert repo not in dockyard("images").output
    missing = dockyard("rmi", bulky)
    assert missing.exit_code == 1
    assert "No such image" in missing.output + missing.stderr


def test_pull_of_an_image_no_registry_has_fails_saying_why(
    dockyard: Dockyard, registry: Registry
) -> None:
    ref = f"{registry.address}/dockyard-test/absent:1"
    result = dockyard("pull", ref)
    assert result.exit_code == 1
    assert f"{ref}: failed: Pull of {ref}" in result.output


def test_run_of_an_image_the_host_lacks_shows_the_pull_on_a_terminal(
    server: DockyardProcess, api: httpx.Client, bulky: str
) -> None:
    name = f"cli-pull-{uuid.uuid4().hex[:8]}"
    try:
        code, out, err = on_terminal(server, "run", "--name", name, bulky, *SLEEP_FOREVER)
        assert code == 0, out + err
        assert "\r" in err  # the bar, on stderr as docker run does
        assert "] 100%" in err
        assert f"{bulky}: pulled" in err
        assert "Running" in out  # stdout has the container only
        assert "%" not in out
    finally:
        api.delete(f"/v1/containers/{name}", params={"force": "true"})
        wait_gone(api, name)


def test_search_lists_a_registrys_images_and_says_why_docker_hub_gave_none(
    dockyard: Dockyard, registry: Registry
) -> None:
    ref = registry.push_test_image(f"dockyard-test/found-{uuid.uuid4().hex[:8]}")
    repo = ref.rsplit(":", 1)[0]
    try:
        result = dockyard("search", repo)
        assert result.exit_code == 0, result.output + result.stderr
        header, *rows = result.output.splitlines()
        assert header.split() == ["NAME", "TAGS", "REGISTRY", "DESCRIPTION"]
        assert [row.split() for row in rows] == [[repo, "1", registry.address]]
        hub = dockyard("search", "docker.io/busybox")
        assert hub.exit_code != 0
        assert "Docker Hub" in hub.output + hub.stderr
    finally:
        remove_image(ref)
