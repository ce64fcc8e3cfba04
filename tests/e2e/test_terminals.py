"""Consoles through the real clients at a real terminal: `openstack appcontainer exec
--interactive`, the console URL's single-use token, and execute without run.

Every interactive client runs on its own pseudo-terminal (tests/support/terminal.py): the
test types, reads what the container's TTY printed, resizes the window and presses Ctrl-D.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support.server import DockyardProcess
from tests.support.terminal import Terminal, size_seen, typed_and_answered
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for, wait_status
from tests.support.zun import assert_zun_error, unique_name

pytestmark = pytest.mark.engine

BIN = Path(sys.executable).parent
TOKEN_TTL = 8  # seconds: short, so that the expiry test waits little


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[DockyardProcess]:
    proc = DockyardProcess(
        tmp_path_factory.mktemp("terminals"), DOCKYARD_API__STREAM_TOKEN_TTL=str(TOKEN_TTL)
    )
    proc.start(timeout=120)  # the machine may be busy: a slow start is not what we test
    yield proc
    proc.stop()
    proc.remove_engine_objects()


@pytest.fixture(scope="module")
def api(server: DockyardProcess) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _run(api: httpx.Client, **extra: Any) -> dict[str, Any]:
    body = {"name": unique_name("term"), "image": TEST_IMAGE, **extra}
    response = api.post("/v1/containers?run=true", json=body)
    assert response.status_code == 202, response.text
    return wait_status(api, response.json()["uuid"], "Running")


@pytest.fixture(scope="module")
def box(api: httpx.Client) -> dict[str, Any]:
    """A running container to exec into."""
    return _run(api, command=SLEEP_FOREVER)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("term-home")


def _env(home: Path) -> dict[str, str]:
    """A clean environment (no stray OS_* variables), with a terminal type; PYTHONPATH is
    kept so that `dockyard` is the code under test when it is not the installed one."""
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "TERM": "xterm"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _osc(server: DockyardProcess, *args: str) -> list[str]:
    endpoint = f"{server.url}/v1"
    return [str(BIN / "openstack"), "--os-auth-type", "none", "--os-endpoint", endpoint,
            "appcontainer", *args]  # fmt: skip


def test_openstack_exec_interactive_is_a_terminal(
    server: DockyardProcess, box: dict[str, Any], home: Path
) -> None:
    term = Terminal(_osc(server, "exec", "--interactive", box["name"], "sh"), _env(home))
    try:
        term.expect("connected to")
        size_seen(term, 30, 100)  # the client sent its window size on connecting
        typed_and_answered(term)
        term.resize(41, 123)
        size_seen(term, 41, 123)
        term.type("\x04")  # Ctrl-D: the shell ends, and with it the client
        assert term.wait() == 0
    finally:
        term.close()


def _console_url(api: httpx.Client, ident: str, command: str = "sh") -> dict[str, Any]:
    params = {"command": command, "run": "false", "interactive": "true"}
    response = api.post(f"/v1/containers/{ident}/execute", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refused(url: str) -> httpx.Response:
    """The handshake's answer to a refused console URL, as an httpx response."""
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=10).close()
    answer = refused.value.response
    return httpx.Response(
        answer.status_code, headers=dict(answer.headers), content=bytes(answer.body)
    )


def test_execute_interactive_answers_what_zunclient_reads(
    api: httpx.Client, box: dict[str, Any]
) -> None:
    body = _console_url(api, box["uuid"])
    assert set(body) == {"output", "exit_code", "exec_id", "proxy_url"}
    assert len(body["exec_id"]) == 64
    assert body["proxy_url"].startswith(f"ws://127.0.0.1:{api.base_url.port}/v1/streams?token=")
    assert f"uuid={box['uuid']}" in body["proxy_url"]
    with connect(body["proxy_url"], open_timeout=10) as ws:
        ws.send(b"echo $((40+2))zz; exit 5\n")
        seen = _read_to_close(ws)
    assert b"42zz" in seen
    assert ws.close_reason == "exit_code=5"  # the exec's exit status, as the close reason


def _read_to_close(ws: ClientConnection) -> bytes:
    seen = b""
    while True:
        try:
            message = ws.recv(timeout=30)
        except ConnectionClosed:
            return seen
        seen += message if isinstance(message, bytes) else message.encode()


def test_output_written_at_once_is_not_lost(api: httpx.Client, box: dict[str, Any]) -> None:
    # the engine may send it with its answer's headers: the agent passes those bytes on too
    for _ in range(3):
        url = _console_url(api, box["uuid"], "echo early-bird")["proxy_url"]
        with connect(url, open_timeout=10) as ws:
            assert b"early-bird" in _read_to_close(ws)
        assert ws.close_reason == "exit_code=0"


def test_console_token_works_once(api: httpx.Client, box: dict[str, Any]) -> None:
    url = _console_url(api, box["uuid"], "true")["proxy_url"]
    with connect(url, open_timeout=10):
        pass
    error = assert_zun_error(_refused(url), 401, "container.stream-token-refused")
    assert "already used" in error["detail"]


def test_console_token_expires(api: httpx.Client, box: dict[str, Any]) -> None:
    url = _console_url(api, box["uuid"], "true")["proxy_url"]
    time.sleep(TOKEN_TTL + 1)
    error = assert_zun_error(_refused(url), 401, "container.stream-token-refused")
    assert "expired" in error["detail"]


def test_forged_console_token_is_refused(
    server: DockyardProcess, api: httpx.Client, box: dict[str, Any]
) -> None:
    url = _console_url(api, box["uuid"], "true")["proxy_url"]
    token = url.split("token=")[1].split("&")[0]
    forged = url.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    error = assert_zun_error(_refused(forged), 401, "container.stream-token-refused")
    assert "not a token" in error["detail"]
    bare = f"ws://127.0.0.1:{server.port}/v1/streams"
    assert_zun_error(_refused(bare), 401, "container.stream-token-refused")
    # the real token still works: the forgeries did not use it up
    with connect(url, open_timeout=10):
        pass


def test_console_token_is_bound_to_its_container(api: httpx.Client, box: dict[str, Any]) -> None:
    other = _run(api, command=SLEEP_FOREVER)
    url = _console_url(api, box["uuid"], "true")["proxy_url"]
    error = assert_zun_error(
        _refused(url.replace(box["uuid"], other["uuid"])), 401, "container.stream-token-refused"
    )
    assert "another container" in error["detail"]


def test_execute_without_run_makes_an_exec_and_no_console(
    api: httpx.Client, box: dict[str, Any]
) -> None:
    params = {"command": "true", "run": "false"}
    response = api.post(f"/v1/containers/{box['uuid']}/execute", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["exec_id"]) == 64
    assert body["proxy_url"] is None
    assert body["output"] is None
    # the usual execute still runs to the end and answers the output
    done = api.post(f"/v1/containers/{box['uuid']}/execute", params={"command": "echo ok"})
    assert done.json()["output"] == "ok\n"
    assert done.json()["exit_code"] == 0


def test_execute_resize_refuses_bad_input(api: httpx.Client, box: dict[str, Any]) -> None:
    path = f"/v1/containers/{box['uuid']}/execute_resize"
    console = _console_url(api, box["uuid"], "sh")
    exec_id = console["exec_id"]
    not_open = api.post(path, params={"exec_id": exec_id, "h": "24", "w": "80"})
    assert "not running" in assert_zun_error(not_open, 409)["detail"]
    with connect(console["proxy_url"], open_timeout=10):
        answer = api.post(path, params={"exec_id": exec_id, "h": "24", "w": "80"})
        assert answer.status_code == 200, answer.text
    assert_zun_error(api.post(path, params={"exec_id": "nope", "h": "2", "w": "2"}), 400)
    assert_zun_error(api.post(path, params={"exec_id": exec_id, "w": "80"}), 400)
    assert_zun_error(api.post(path, params={"exec_id": exec_id, "h": "0", "w": "80"}), 400)
    unknown = {"exec_id": "0" * 64, "h": "24", "w": "80"}
    assert_zun_error(api.post(path, params=unknown), 404)


def test_interactive_execute_needs_a_running_container(api: httpx.Client) -> None:
    body = {"name": unique_name("term-created"), "image": TEST_IMAGE, "command": SLEEP_FOREVER}
    created = api.post("/v1/containers", json=body).json()
    wait_status(api, created["uuid"], "Created")
    params = {"command": "sh", "run": "false", "interactive": "true"}
    response = api.post(f"/v1/containers/{created['uuid']}/execute", params=params)
    assert_zun_error(response, 409)
    api.delete(f"/v1/containers/{created['uuid']}")


# --- attach and resize: the container's own TTY ----------------------------------------------


def _interactive(api: httpx.Client) -> dict[str, Any]:
    """A running container whose main process is a shell on a TTY."""
    return _run(api, command=["sh"], interactive=True, tty=True)


def _stopped_with(api: httpx.Client, uuid: str, code: int) -> None:
    stopped = wait_status(api, uuid, "Stopped")
    assert stopped["status_detail"].startswith(f"Exited({code})"), stopped


def test_openstack_run_interactive_is_a_terminal(server: DockyardProcess, home: Path) -> None:
    name = unique_name("term-run")
    term = Terminal(_osc(server, "run", "--interactive", "--name", name, TEST_IMAGE, "sh"),
                    _env(home))  # fmt: skip
    try:
        term.expect("connected to")
        size_seen(term, 30, 100)
        typed_and_answered(term)
        term.resize(35, 90)
        size_seen(term, 35, 90)
        term.type("\x04")  # Ctrl-D ends the shell, the container, and the client
        assert term.wait() == 0
    finally:
        term.close()
    with server.client() as api:
        _stopped_with(api, name, 0)


def test_openstack_attach_is_a_terminal(
    server: DockyardProcess, api: httpx.Client, home: Path
) -> None:
    box = _interactive(api)
    term = Terminal(_osc(server, "attach", box["name"]), _env(home), rows=25, cols=70)
    try:
        term.expect("connected to")
        size_seen(term, 25, 70)  # attach resized the container's TTY to our window
        typed_and_answered(term)
        term.resize(50, 160)
        size_seen(term, 50, 160)
        term.type("exit 4\r")
        assert term.wait() == 0  # zunclient ends quietly; the container's status says 4
    finally:
        term.close()
    _stopped_with(api, box["uuid"], 4)


def test_attach_needs_an_interactive_running_container(
    api: httpx.Client, box: dict[str, Any]
) -> None:
    refused = assert_zun_error(api.get(f"/v1/containers/{box['uuid']}/attach"), 409)
    assert "interactive" in refused["detail"]
    body = {"name": unique_name("term-created"), "image": TEST_IMAGE, "interactive": True}
    created = api.post("/v1/containers", json=body).json()
    wait_status(api, created["uuid"], "Created")
    assert_zun_error(api.get(f"/v1/containers/{created['uuid']}/attach"), 409)
    api.delete(f"/v1/containers/{created['uuid']}")


def test_resize_refuses_bad_input(api: httpx.Client, box: dict[str, Any]) -> None:
    path = f"/v1/containers/{box['uuid']}/resize"
    assert_zun_error(api.post(path, params={"h": "24"}), 400)
    assert_zun_error(api.post(path, params={"h": "x", "w": "80"}), 400)
    assert_zun_error(api.post(path, params={"h": "24", "w": "100000"}), 400)
    assert_zun_error(api.post("/v1/containers/no-such-box/resize", params={"h": 2, "w": 2}), 404)


# --- the dockyard CLI ------------------------------------------------------------------------


def _dockyard(server: DockyardProcess, name: str, *args: str) -> list[str]:
    return [str(BIN / "dockyard"), name, "--url", server.url, *args]


def test_dockyard_exec_it_is_a_terminal_and_exits_with_the_status(
    server: DockyardProcess, box: dict[str, Any], home: Path
) -> None:
    term = Terminal(_dockyard(server, "exec", "-it", box["name"], "sh"), _env(home))
    try:
        size_seen(term, 30, 100)
        typed_and_answered(term)
        term.resize(33, 111)
        size_seen(term, 33, 111)
        term.type("exit 3\r")
        assert term.wait() == 3
    finally:
        term.close()
    ctrl_d = Terminal(_dockyard(server, "exec", "-it", box["name"], "sh"), _env(home))
    try:
        size_seen(ctrl_d, 30, 100)  # typed again until the shell reads its terminal
        ctrl_d.type("\x04")
        assert ctrl_d.wait() == 0
    finally:
        ctrl_d.close()


def test_dockyard_run_it_attaches_and_ends_with_the_container(
    server: DockyardProcess, api: httpx.Client, home: Path
) -> None:
    name = unique_name("term-cli-run")
    term = Terminal(_dockyard(server, "run", "-it", "--name", name, TEST_IMAGE, "sh"),
                    _env(home), rows=20, cols=60)  # fmt: skip
    try:
        size_seen(term, 20, 60)
        typed_and_answered(term)
        term.resize(44, 132)
        size_seen(term, 44, 132)
        term.type("exit 7\r")
        assert term.wait() == 7
    finally:
        term.close()
    _stopped_with(api, name, 7)


def _ps(api: httpx.Client, uuid: str) -> str:
    done = api.post(f"/v1/containers/{uuid}/execute", params={"command": "ps -o args"})
    return str(done.json()["output"])


def test_dockyard_attach_takes_ctrl_c_to_the_container(
    server: DockyardProcess, api: httpx.Client, home: Path
) -> None:
    box = _interactive(api)
    term = Terminal(_dockyard(server, "attach", box["name"]), _env(home))
    try:
        size_seen(term, 30, 100)
        term.type("sleep 600\r")
        wait_for(lambda: "sleep 600" in _ps(api, box["uuid"]), what="sleep to run")
        mark = term.type("\x03")  # raw mode: Ctrl-C interrupts the container's sleep, not us
        term.expect(r"\^C\r\n/ # ", start=mark)
        assert "sleep 600" not in _ps(api, box["uuid"])
        typed_and_answered(term)
        term.type("\x04")
        assert term.wait() == 0
    finally:
        term.close()
    _stopped_with(api, box["uuid"], 0)


def test_dockyard_logs_follow_prints_lines_as_they_are_written(
    server: DockyardProcess, api: httpx.Client, home: Path
) -> None:
    script = "echo first; while [ ! -f /tmp/go ]; do sleep 0.2; done; echo second-$(cat /tmp/go)"
    box = _run(api, command=["sh", "-c", script + "; exec sleep 600"])
    term = Terminal(_dockyard(server, "logs", "--follow", box["name"]), _env(home))
    try:
        term.expect("first")
        written = api.post(
            f"/v1/containers/{box['uuid']}/execute", params={"command": "sh -c 'echo 42 > /tmp/go'"}
        )
        assert written.json()["exit_code"] == 0, written.text
        term.expect("second-42")
        api.post(f"/v1/containers/{box['uuid']}/kill")
        assert term.wait() == 0  # the container stopped: its log ended, and so did we
    finally:
        term.close()


def test_dockyard_exec_i_in_a_pipe_ends_with_its_input(
    server: DockyardProcess, box: dict[str, Any], home: Path
) -> None:
    def piped(text: str, *command: str) -> subprocess.CompletedProcess[str]:
        argv = _dockyard(server, "exec", "-i", box["name"], *command)
        return subprocess.run(
            argv, input=text, capture_output=True, text=True, env=_env(home), timeout=120,
            check=False,
        )  # fmt: skip

    # no terminal here: no TTY there either, so the end of our input is the end of its input
    done = piped("echo out-$((6*7))\necho err-1 >&2\nexit 4\n", "sh")
    assert (done.returncode, done.stderr) == (4, "")
    assert sorted(done.stdout.splitlines()) == ["err-1", "out-42"]
    copied = piped("line one\nline two\n", "cat")
    assert (copied.returncode, copied.stdout) == (0, "line one\nline two\n")


def test_a_piped_exec_whose_client_leaves_gets_the_end_of_its_input(
    api: httpx.Client, box: dict[str, Any]
) -> None:
    params = {"command": "head -c 7777777", "run": "false", "interactive": "true", "tty": "false"}
    url = api.post(f"/v1/containers/{box['uuid']}/execute", params=params).json()["proxy_url"]
    with connect(url, open_timeout=10) as ws:
        ws.send(b"some input\n")
        wait_for(lambda: "head -c 7777777" in _ps(api, box["uuid"]), what="head to run")
    # the client went away without ending it: the process reads the end of its input
    wait_for(lambda: "head -c 7777777" not in _ps(api, box["uuid"]), what="head to end")
