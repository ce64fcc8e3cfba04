"""The real python-zunclient library drives a container's whole life against `dockyard serve`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from zunclient import exceptions as zunexc
from zunclient.v1.client import Client
from zunclient.v1.containers import Container

from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.zun import unique_name
from tests.support.zunclient import make_client, remove, wait_deleted, wait_status

pytestmark = pytest.mark.engine

GREETING_COMMAND = ["sh", "-c", "echo $GREETING; exec httpd -f -p 8080"]


@pytest.fixture(scope="module")
def web(zun: Client) -> Iterator[Container]:
    """`run` of a small web server that greets in its log; the 202 reply, once it is Running."""
    reply: Container = zun.containers.run(
        name=unique_name("zc-web"),
        image=TEST_IMAGE,
        command=GREETING_COMMAND,
        environment={"GREETING": "hi"},
        labels={"app": "web"},
        cpu=0.5,
        memory="128",
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 2},
    )
    wait_status(zun, reply.uuid, "Running")
    yield reply
    remove(zun, reply.uuid)


def assert_zun_types(info: dict[str, Any]) -> None:
    """The field types Zun's container view has (api-ref + tempest)."""
    assert isinstance(info["uuid"], str)
    assert isinstance(info["name"], str)
    assert isinstance(info["cpu"], float)
    assert isinstance(info["memory"], str)
    assert info["memory"].isdigit()
    assert isinstance(info["disk"], int)
    assert isinstance(info["command"], list)
    assert all(isinstance(arg, str) for arg in info["command"])
    assert isinstance(info["environment"], dict)
    assert isinstance(info["labels"], dict)
    assert set(info["restart_policy"]) == {"Name", "MaximumRetryCount"}
    assert all(isinstance(value, str) for value in info["restart_policy"].values())
    for flag in ("interactive", "tty", "auto_remove", "auto_heal"):
        assert isinstance(info[flag], bool), flag
    assert isinstance(info["security_groups"], list)
    assert info["image_driver"] == "docker"
    assert [link["rel"] for link in info["links"]] == ["self", "bookmark"]


def test_run_answers_a_creating_container_with_zun_field_types(web: Container) -> None:
    info = web.to_dict()
    assert_zun_types(info)
    assert info["status"] == "Creating"
    assert info["image"] == TEST_IMAGE
    assert info["command"] == GREETING_COMMAND
    assert info["environment"] == {"GREETING": "hi"}
    assert info["labels"] == {"app": "web"}
    assert info["cpu"] == 0.5
    assert info["memory"] == "128"
    assert info["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": "2"}


def test_get_by_name_and_by_uuid_show_the_running_container(zun: Client, web: Container) -> None:
    by_name = zun.containers.get(web.name).to_dict()
    by_uuid = zun.containers.get(web.uuid).to_dict()
    assert by_name["uuid"] == by_uuid["uuid"] == web.uuid
    assert_zun_types(by_name)
    assert by_name["status"] == "Running"
    assert by_name["status_detail"].startswith("Up ")
    assert by_name["task_state"] is None
    assert isinstance(by_name["ports"], list)
    assert isinstance(by_name["addresses"], dict)


def test_list_shows_the_container(zun: Client, web: Container) -> None:
    listed = {c.uuid: c for c in zun.containers.list()}
    assert listed[web.uuid].name == web.name
    assert listed[web.uuid].status == "Running"
    assert len(zun.containers.list(limit=1)) == 1
    names = [c.name for c in zun.containers.list(sort_key="name", sort_dir="desc")]
    assert names == sorted(names, reverse=True)


def test_version_1_discovers_the_server_maximum(server: DockyardProcess, web: Container) -> None:
    discovering = make_client(server.url, "1")  # GET / picks the CURRENT version's max_version
    assert discovering.containers.api_version.get_string() == "1.40"
    assert web.uuid in {c.uuid for c in discovering.containers.list()}


def test_logs_hold_what_the_command_printed(zun: Client, web: Container) -> None:
    logs = zun.containers.logs(web.uuid, stdout=True, stderr=True)
    assert isinstance(logs, str)
    assert "hi" in logs.splitlines()
    tail = zun.containers.logs(web.uuid, stdout=True, stderr=False, tail=1)
    assert tail.splitlines()[-1] == "hi"


def test_execute_returns_output_and_exit_code(zun: Client, web: Container) -> None:
    result = zun.containers.execute(web.uuid, command="echo out", run=True)
    assert result["output"] == "out\n"
    assert result["exit_code"] == 0
    assert set(result) >= {"output", "exit_code", "exec_id", "proxy_url"}
    # the command is split like a shell would, not run by one: a shell sees the environment
    greeting = zun.containers.execute(web.uuid, command="sh -c 'echo $GREETING'")
    assert greeting == {**greeting, "output": "hi\n", "exit_code": 0}
    failing = zun.containers.execute(web.uuid, command="sh -c 'echo bad >&2; exit 3'")
    assert failing["exit_code"] == 3
    assert "bad" in failing["output"]


def test_stop_then_start(zun: Client, web: Container) -> None:
    zun.containers.stop(web.uuid, 1)  # httpd as PID 1 ignores SIGTERM: killed after 1 s
    stopped = wait_status(zun, web.uuid, "Stopped")
    assert stopped.status_detail.startswith("Exited(")
    with pytest.raises(zunexc.Conflict):
        zun.containers.stop(web.uuid, 1)
    zun.containers.start(web.uuid)
    wait_status(zun, web.uuid, "Running")


def test_reboot_restarts_the_container(zun: Client, web: Container) -> None:
    zun.containers.restart(web.uuid, 1)
    assert zun.containers.get(web.uuid).status in ("Restarting", "Running")
    wait_status(zun, web.uuid, "Running")
    # the command ran again
    assert zun.containers.logs(web.uuid, stdout=True, stderr=True).count("hi") >= 2


def test_pause_then_unpause(zun: Client, web: Container) -> None:
    zun.containers.pause(web.uuid)
    paused = wait_status(zun, web.uuid, "Paused")
    assert paused.status_detail.endswith("(Paused)")
    with pytest.raises(zunexc.Conflict):
        zun.containers.execute(web.uuid, command="true")
    zun.containers.unpause(web.uuid)
    wait_status(zun, web.uuid, "Running")


def test_kill_sends_the_default_or_a_named_signal(zun: Client) -> None:
    victim = zun.containers.run(name=unique_name("zc-kill"), image=TEST_IMAGE,
                                command=SLEEP_FOREVER)  # fmt: skip
    try:
        wait_status(zun, victim.uuid, "Running")
        zun.containers.kill(victim.uuid)  # sends signal=None, which Zun reads as "the default"
        killed = wait_status(zun, victim.uuid, "Stopped")
        assert killed.status_detail.startswith("Exited(137)")  # SIGKILL
        with pytest.raises(zunexc.Conflict):
            zun.containers.kill(victim.uuid)
        zun.containers.start(victim.uuid)
        wait_status(zun, victim.uuid, "Running")
        zun.containers.kill(victim.uuid, signal="SIGTERM")  # the command traps TERM: exit 0
        killed = wait_status(zun, victim.uuid, "Stopped")
        assert killed.status_detail.startswith("Exited(0)")
        with pytest.raises(zunexc.BadRequest):
            zun.containers.kill(victim.uuid, signal="SIGNOPE")
    finally:
        remove(zun, victim.uuid)


def test_kill_after_pause_and_unpause_stops_it(zun: Client) -> None:
    victim = zun.containers.run(name=unique_name("zc-pause-kill"), image=TEST_IMAGE,
                                command=SLEEP_FOREVER)  # fmt: skip
    try:
        wait_status(zun, victim.uuid, "Running")
        zun.containers.pause(victim.uuid)
        wait_status(zun, victim.uuid, "Paused")
        zun.containers.unpause(victim.uuid)
        wait_status(zun, victim.uuid, "Running")
        zun.containers.kill(victim.uuid)
        wait_status(zun, victim.uuid, "Stopped", timeout=10)
        time.sleep(1)  # long enough for the agent to react to the engine's "die" event
        # the agent must not take the kill for drift from "running" and start it again
        assert zun.containers.get(victim.uuid).status == "Stopped"
    finally:
        remove(zun, victim.uuid)


def test_update_changes_cpu_memory_and_name(zun: Client, web: Container) -> None:
    resized = zun.containers.update(web.uuid, cpu=0.25, memory=256).to_dict()
    assert resized["cpu"] == 0.25
    assert isinstance(resized["cpu"], float)
    assert resized["memory"] == "256"
    new_name = unique_name("zc-renamed")
    renamed = zun.containers.update(web.uuid, name=new_name)
    assert renamed.name == new_name
    assert zun.containers.get(new_name).uuid == web.uuid
    with pytest.raises(zunexc.NotFound):
        zun.containers.get(web.name)
    zun.containers.update(new_name, name=web.name)
    assert zun.containers.get(web.name).memory == "256"


def test_invalid_update_is_a_bad_request(zun: Client, web: Container) -> None:
    before = zun.containers.get(web.uuid)
    with pytest.raises(zunexc.BadRequest):
        zun.containers.update(web.uuid, memory="lots")
    with pytest.raises(zunexc.BadRequest):
        zun.containers.update(web.uuid, cpu=100)
    after = zun.containers.get(web.uuid)
    assert (after.cpu, after.memory) == (before.cpu, before.memory)


def test_old_microversion_creates_with_a_string_command_and_renames(
    server: DockyardProcess, zun: Client
) -> None:
    old = make_client(server.url, "1.13")
    # below 1.20 the client turns the list into one quoted string, the server splits it back
    created = old.containers.create(
        name=unique_name("zc-old"), image=TEST_IMAGE, command=["sh", "-c", "echo a b"]
    )
    try:
        assert created.command == ["sh", "-c", "echo a b"]
        wait_status(old, created.uuid, "Created")
        new_name = unique_name("zc-old-renamed")
        response, body = old.containers.rename(created.uuid, new_name)
        assert response.status_code == 200
        assert body["name"] == new_name
        assert old.containers.get(new_name).uuid == created.uuid
        with pytest.raises(zunexc.NotAcceptable):
            zun.containers.rename(created.uuid, unique_name("zc-too-new"))  # gone at 1.14
        old.containers.delete(created.uuid)
        wait_deleted(old, created.uuid)
    finally:
        remove(zun, created.uuid)


def test_delete_of_running_container_needs_stop_or_force(zun: Client) -> None:
    stoppable = zun.containers.run(name=unique_name("zc-stop"), image=TEST_IMAGE,
                                   command=SLEEP_FOREVER)  # fmt: skip
    forced = zun.containers.run(name=unique_name("zc-force"), image=TEST_IMAGE,
                                command=SLEEP_FOREVER)  # fmt: skip
    try:
        wait_status(zun, stoppable.uuid, "Running")
        wait_status(zun, forced.uuid, "Running")
        with pytest.raises(zunexc.Conflict):
            zun.containers.delete(stoppable.uuid)
        zun.containers.delete(stoppable.uuid, stop=True)
        zun.containers.delete(forced.uuid, force=True)
        wait_deleted(zun, stoppable.uuid)
        wait_deleted(zun, forced.uuid)
        remaining = {c.uuid for c in zun.containers.list()}
        assert not {stoppable.uuid, forced.uuid} & remaining
    finally:
        remove(zun, stoppable.uuid)
        remove(zun, forced.uuid)


def test_unknown_container_raises_not_found(zun: Client) -> None:
    with pytest.raises(zunexc.NotFound) as raised:
        zun.containers.get("zc-no-such-container")
    assert "zc-no-such-container could not be found" in str(raised.value)
    with pytest.raises(zunexc.NotFound):
        zun.containers.delete("zc-no-such-container")
