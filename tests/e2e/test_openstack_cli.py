"""The real `openstack appcontainer …` CLI (OSC + zunclient plugin) against `dockyard serve`.

Each call starts a Python process (≈1–2 s), so the tests share one container and keep the
number of calls small; state is watched over HTTP, which is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.osc import Osc
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_gone, wait_status
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine

GREETING_COMMAND = ["sh", "-c", "echo $GREETING; exec httpd -f -p 8080"]


@pytest.fixture(scope="module")
def web(osc: Osc, http: httpx.Client) -> Iterator[dict[str, Any]]:
    """What `appcontainer run -f json` printed; the container is Running when tests start."""
    name = unique_name("osc-web")
    # the command is the tail of the arguments, so the options go before the image
    printed: dict[str, Any] = json.loads(
        osc("run", "--name", name, "--environment", "GREETING=hi", "-f", "json",
            TEST_IMAGE, *GREETING_COMMAND)
    )  # fmt: skip
    wait_status(http, printed["uuid"], "Running")
    yield printed
    if http.get(f"/v1/containers/{printed['uuid']}").status_code == 200:
        http.delete(f"/v1/containers/{printed['uuid']}?force=True")
        wait_gone(http, printed["uuid"])


def test_run_prints_the_new_container_as_zun_does(web: dict[str, Any]) -> None:
    assert web["name"].startswith("osc-web-")
    assert web["image"] == TEST_IMAGE
    assert web["status"] == "Creating"
    assert web["command"] == GREETING_COMMAND
    assert web["environment"] == {"GREETING": "hi"}
    assert web["memory"] == "512"  # a string, as in Zun
    assert web["cpu"] == 1.0
    assert web["restart_policy"] == {"Name": "no", "MaximumRetryCount": "0"}


def test_list_and_show_print_the_running_container(osc: Osc, web: dict[str, Any]) -> None:
    rows = {row["uuid"]: row for row in osc.json("list")}
    row = rows[web["uuid"]]
    assert set(row) == {"uuid", "name", "image", "status", "task_state", "addresses", "ports"}
    assert (row["name"], row["image"], row["status"]) == (web["name"], TEST_IMAGE, "Running")
    assert row["task_state"] is None
    shown = osc.json("show", web["name"])
    assert shown["uuid"] == web["uuid"]
    assert shown["status"] == "Running"
    assert shown["status_detail"].startswith("Up ")
    assert shown["environment"] == {"GREETING": "hi"}
    assert isinstance(shown["memory"], str)
    assert isinstance(shown["cpu"], float)
    assert osc("show", web["uuid"], "-f", "value", "-c", "status") == "Running\n"


def test_logs_and_exec_print_the_container_output(osc: Osc, web: dict[str, Any]) -> None:
    assert "hi" in osc("logs", web["name"]).splitlines()
    assert osc("exec", web["name"], "echo", "out").splitlines()[0] == "out"
    # exec exits with the command's exit code
    printed = osc("exec", web["name"], "sh", "-c", "echo failing; exit 3", returncode=3)
    assert printed.splitlines()[0] == "failing"


def test_stop_start_and_restart_are_accepted(
    osc: Osc, http: httpx.Client, web: dict[str, Any]
) -> None:
    name = web["name"]
    # httpd as PID 1 ignores SIGTERM: a short timeout keeps the stop quick
    assert (
        osc("stop", "--timeout", "1", name)
        == f"Request to stop container {name} has been accepted.\n"
    )
    assert wait_status(http, web["uuid"], "Stopped")["status_detail"].startswith("Exited(")
    assert osc("start", name) == f"Request to start container {name} has been accepted\n"
    wait_status(http, web["uuid"], "Running")
    assert osc("restart", "--timeout", "1", name) == (
        f"Request to restart container {name} has been accepted\n"
    )
    wait_status(http, web["uuid"], "Running")


def test_kill_is_accepted_and_stops_the_container(
    osc: Osc, http: httpx.Client, web: dict[str, Any]
) -> None:
    name = web["name"]
    assert (
        osc("kill", name) == f"Request to send kill signal to container {name} has been accepted\n"
    )
    stopped = wait_status(http, web["uuid"], "Stopped")
    assert stopped["status_detail"].startswith("Exited(137)")
    osc("start", name)
    wait_status(http, web["uuid"], "Running")


def test_pause_and_unpause_are_accepted(osc: Osc, http: httpx.Client, web: dict[str, Any]) -> None:
    name = web["name"]
    assert osc("pause", name) == f"Request to pause container {name} has been accepted\n"
    wait_status(http, web["uuid"], "Paused")
    assert osc("unpause", name) == f"Request to unpause container {name} has been accepted\n"
    wait_status(http, web["uuid"], "Running")


def test_set_renames_and_delete_needs_stop_for_a_running_container(
    osc: Osc, http: httpx.Client, web: dict[str, Any]
) -> None:
    new_name = unique_name("osc-renamed")
    renamed = osc.json("set", "--name", new_name, web["uuid"])
    assert (renamed["uuid"], renamed["name"]) == (web["uuid"], new_name)
    # Zun's CLI reports a refused delete on stdout and still exits 0
    refused = osc("delete", new_name)
    assert refused.startswith(f"Delete for container {new_name} failed: Cannot delete container")
    assert "(HTTP 409)" in refused
    accepted = osc("delete", "--stop", new_name)
    assert accepted == f"Request to delete container {new_name} has been accepted.\n"
    wait_gone(http, web["uuid"])
