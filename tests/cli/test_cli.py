"""The `dockyard` containers commands against a real `dockyard serve` and Docker engine."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from tests.cli.conftest import Dockyard
from tests.support.server import DockyardProcess, free_port
from tests.support.wait import wait_for, wait_gone, wait_status

IMAGE = "dockyard-test/busybox:1"
DOCKYARD = str(Path(sys.executable).with_name("dockyard"))


def shown(dockyard: Dockyard, name: str) -> dict[str, Any]:
    result = dockyard("show", name, "--format", "json")
    assert result.exit_code == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def table_rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()]


def field_value(text: str, field: str) -> str:
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == field:
            return value.strip()
    raise AssertionError(f"no {field!r} row in:\n{text}")


# --- run / create -------------------------------------------------------------------------


def test_run_waits_until_running_and_prints_the_container(dockyard: Dockyard) -> None:
    name = dockyard.name()
    result = dockyard("run", "--name", name, IMAGE, "sh", "-c", "trap 'exit 0' TERM; sleep 600")
    assert result.exit_code == 0, result.stderr
    assert field_value(result.stdout, "name") == name
    assert field_value(result.stdout, "status") == "Running"
    assert shown(dockyard, name)["status"] == "Running"


def test_run_passes_the_command_and_its_options_to_the_container(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    command = shown(dockyard, name)["command"]
    assert command[:2] == ["sh", "-c"]
    assert command[2].startswith("echo greeting=$GREETING;")


def test_run_after_double_dash_passes_the_command(dockyard: Dockyard) -> None:
    name = dockyard.name()
    result = dockyard("run", "--name", name, "--format", "json", IMAGE, "--", "echo", "-n", "x")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["command"] == ["echo", "-n", "x"]


def test_run_sends_every_create_option(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper(
        "--label", "team=blue", "--workdir", "/tmp", "--hostname", "box1", "--cpu", "0.5",
        "--memory", "128", "--restart", "on-failure:3", "--expose", "8080/tcp", "-i", "-t",
    )  # fmt: skip
    body = shown(dockyard, name)
    assert body["environment"] == {"GREETING": "hello"}
    assert body["labels"] == {"team": "blue"}
    assert (body["workdir"], body["hostname"]) == ("/tmp", "box1")
    assert (body["cpu"], body["memory"]) == (0.5, "128")
    assert body["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": "3"}
    assert body["ports"] == [8080]
    assert (body["interactive"], body["tty"]) == (True, True)


def test_run_no_wait_prints_the_accepted_container_as_json(dockyard: Dockyard) -> None:
    name = dockyard.name()
    result = dockyard("run", "--no-wait", "--format", "json", "--name", name, IMAGE, "sleep", "5")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["name"] == name
    assert body["status"] == "Creating"


def test_run_of_a_missing_image_prints_the_container_and_fails(dockyard: Dockyard) -> None:
    name = dockyard.name()
    result = dockyard("run", "--name", name, "dockyard-test/missing:0", "true")
    assert result.exit_code == 1
    assert field_value(result.stdout, "status") == "Error"
    *pulling, error = result.stderr.splitlines()
    assert error.startswith(f"Error: Container {name} failed: ")
    # before it, at most the pull's plain progress lines (stderr is not a terminal here)
    assert all(line.startswith("dockyard-test/missing:0: ") for line in pulling)
    assert "failed" not in "".join(pulling)


def test_create_makes_a_container_that_is_not_started(dockyard: Dockyard) -> None:
    name = dockyard.name()
    result = dockyard("create", "--name", name, "--format", "json", IMAGE, "sleep", "5")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["name"] == name
    wait_status(dockyard.api, name, "Created")


def test_bad_restart_policy_is_a_usage_error(dockyard: Dockyard) -> None:
    result = dockyard("run", "--restart", "sometimes", IMAGE)
    assert result.exit_code == 2
    assert "Invalid value for '--restart'" in result.stderr


# --- list / show / logs -------------------------------------------------------------------


def test_list_prints_an_aligned_table_with_the_container(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    uuid_ = shown(dockyard, name)["uuid"]
    result = dockyard("list")
    assert result.exit_code == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split("  ")[0] == "UUID"
    for column in ("NAME", "IMAGE", "STATUS", "TASK STATE", "ADDRESSES", "PORTS"):
        assert column in header
    row = next(line for line in rows if line.startswith(uuid_))
    assert row.index(name) == header.index("NAME")
    assert row[header.index("STATUS") :].startswith("Running")


def test_list_json_is_the_api_list(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert isinstance(listed, list)
    mine = next(c for c in listed if c["name"] == name)
    api_view = dockyard.api.get(f"/v1/containers/{name}").json()
    assert set(mine) == set(api_view)
    assert mine["uuid"] == api_view["uuid"]


def test_ls_with_name_filter_lists_only_that_container(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    other = dockyard.run_sleeper()
    result = dockyard("ls", "--name", name)
    assert result.exit_code == 0, result.stderr
    rows = table_rows(result.stdout)[1:]
    assert [row[1] for row in rows] == [name]
    assert other not in result.stdout


def test_list_status_filter_keeps_only_that_status(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("list", "--status", "Running", "--format", "json")
    statuses = {c["status"] for c in json.loads(result.stdout)}
    assert statuses == {"Running"}
    assert name in {c["name"] for c in json.loads(result.stdout)}


def test_show_prints_a_field_value_table(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("show", name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["FIELD", "VALUE"]
    assert field_value(result.stdout, "name") == name
    assert field_value(result.stdout, "image") == IMAGE
    assert field_value(result.stdout, "environment") == '{"GREETING": "hello"}'


def test_logs_contain_the_echoed_environment_variable(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    logs = wait_for(lambda: dockyard("logs", name).stdout, what="the first log line")
    assert logs == "greeting=hello\n"
    as_json = dockyard("logs", name, "--tail", "1", "--format", "json")
    assert json.loads(as_json.stdout) == "greeting=hello\n"


def test_logs_without_stdout_are_empty(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    wait_for(lambda: "greeting" in dockyard("logs", name).stdout)
    assert dockyard("logs", name, "--no-stdout").stdout == ""


# --- exec ---------------------------------------------------------------------------------


def test_exec_prints_output_and_exits_with_the_command_exit_code(
    dockyard: Dockyard, server: DockyardProcess
) -> None:
    name = dockyard.run_sleeper()
    done = subprocess.run(
        [DOCKYARD, "exec", "--url", server.url, name, "sh", "-c", "echo out; exit 3"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.stdout == "out\n"
    assert done.returncode == 3
    assert done.stderr == ""


def test_exec_passes_options_of_the_command_through(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("exec", name, "ls", "-d", "/tmp")
    assert (result.exit_code, result.stdout) == (0, "/tmp\n")
    result = dockyard("exec", name, "--", "echo", "-n", "a b")
    assert (result.exit_code, result.stdout) == (0, "a b")


def test_exec_json_prints_the_api_result_and_keeps_the_exit_code(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("exec", "--format", "json", name, "sh", "-c", "echo $GREETING; exit 4")
    assert result.exit_code == 4
    body = json.loads(result.stdout)
    assert (body["output"], body["exit_code"]) == ("hello\n", 4)


# --- lifecycle ----------------------------------------------------------------------------


def test_stop_then_start_then_restart_change_the_status(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("stop", "--timeout", "5", "--wait", name)
    assert (result.exit_code, result.stdout) == (0, f"Container {name} is Stopped.\n")
    assert shown(dockyard, name)["status"] == "Stopped"
    assert dockyard("start", "--wait", name).exit_code == 0
    assert shown(dockyard, name)["status"] == "Running"
    result = dockyard("restart", "--timeout", "5", "--no-wait", name)
    assert result.stdout == f"Request to restart container {name} has been accepted.\n"
    wait_status(dockyard.api, name, "Running")


def test_stop_waits_like_docker_stop_so_delete_follows_at_once(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("stop", name)  # no flag: it returns once the container has stopped
    assert (result.exit_code, result.stdout) == (0, f"Container {name} is Stopped.\n")
    result = dockyard("delete", name)
    assert result.exit_code == 0, result.stderr
    wait_gone(dockyard.api, name)


def test_delete_of_a_running_container_says_to_use_stop_or_force(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("delete", name)
    assert result.exit_code == 1
    assert "Stop it first, or delete it with --stop (or --force)." in result.stderr
    assert shown(dockyard, name)["status"] == "Running"


def test_pause_then_unpause_change_the_status(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    assert dockyard("pause", name).exit_code == 0
    wait_status(dockyard.api, name, "Paused")
    result = dockyard("unpause", "--wait", name)
    assert (result.exit_code, result.stdout) == (0, f"Container {name} is Running.\n")
    assert shown(dockyard, name)["status"] == "Running"


def test_kill_with_a_signal_stops_the_container(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("kill", name, "--signal", "SIGKILL")
    assert result.exit_code == 0, result.stderr
    wait_status(dockyard.api, name, "Stopped")


def test_update_changes_cpu_and_memory(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("update", name, "--cpu", "0.5", "--memory", "256", "--format", "json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["cpu"], body["memory"]) == (0.5, "256")
    assert (shown(dockyard, name)["cpu"], shown(dockyard, name)["memory"]) == (0.5, "256")


def test_rename_gives_the_container_its_new_name(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    new = dockyard.name("renamed")
    result = dockyard("rename", name, new)
    assert result.exit_code == 0, result.stderr
    assert field_value(result.stdout, "name") == new
    assert shown(dockyard, new)["uuid"] == dockyard.api.get(f"/v1/containers/{new}").json()["uuid"]
    assert dockyard.api.get(f"/v1/containers/{name}").status_code == 404


def test_delete_with_stop_removes_a_running_container(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("delete", "--stop", name)
    assert (result.exit_code, result.stdout) == (
        0, f"Request to delete container {name} has been accepted.\n",
    )  # fmt: skip
    wait_gone(dockyard.api, name)


# --- errors -------------------------------------------------------------------------------


def test_unknown_container_is_a_one_line_error(dockyard: Dockyard) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    result = dockyard("show", missing)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: Container {missing} could not be found. (HTTP 404)\n"


def test_action_in_the_wrong_state_is_a_one_line_conflict(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    uuid_ = shown(dockyard, name)["uuid"]
    result = dockyard("start", name)
    assert result.exit_code == 1
    assert result.stderr == f"Error: Cannot start container {uuid_} in Running state. (HTTP 409)\n"


def test_invalid_update_is_a_one_line_bad_request(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("update", name)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Nothing to update")
    assert result.stderr.endswith(" (HTTP 400)\n")


def test_kill_with_an_unknown_signal_is_a_one_line_bad_request(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("kill", name, "--signal", "SIGNOPE")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert result.stderr.endswith(" (HTTP 400)\n")
    assert shown(dockyard, name)["status"] == "Running"


def test_action_on_several_ids_reports_each_and_fails_if_any_failed(dockyard: Dockyard) -> None:
    name = dockyard.run_sleeper()
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    result = dockyard("stop", "--no-wait", name, missing)
    assert result.exit_code == 1
    assert result.stdout == f"Request to stop container {name} has been accepted.\n"
    assert result.stderr == f"Error: Container {missing} could not be found. (HTTP 404)\n"
    wait_status(dockyard.api, name, "Stopped")


def test_server_that_does_not_answer_is_a_one_line_error_without_traceback() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for command, *args in (["list"], ["show", "x"], ["stop", "x", "y"], ["run", "img"]):
        done = subprocess.run(
            [DOCKYARD, command, "--url", url, *args], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1, args
        assert done.stdout == ""
        assert (
            done.stderr == f"Error: The server at {url}/v1 does not answer (connection refused)\n"
        )


def test_url_may_name_the_v1_endpoint(dockyard: Dockyard, server: DockyardProcess) -> None:
    name = dockyard.run_sleeper()
    result = dockyard("list", "--url", f"{server.url}/v1/", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert name in {c["name"] for c in json.loads(result.stdout)}
