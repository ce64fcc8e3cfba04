"""`zun exec -i`, `zun run -i` and `zun attach` at a real terminal, logged in through a real
Keystone; and no console of another project's container, whatever the way in."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.deployments import Deployment
from tests.support.keystone import Realm, User
from tests.support.terminal import Terminal, size_seen, typed_and_answered
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_status
from tests.support.zun import assert_zun_error, unique_name

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("zun-term-home")


def _zun(home: Path, realm: Realm, user: User, *args: str, rows: int = 30) -> Terminal:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", "TERM": "xterm",
           **user.openrc(realm.keystone.url)}  # fmt: skip
    return Terminal([str(BIN / "zun"), *args], env, rows=rows, cols=100)


@pytest.fixture(scope="module")
def alphas(keystone_deployment: Deployment) -> Iterator[dict[str, Any]]:
    """A running container of project alpha."""
    with keystone_deployment.client(keystone_deployment.alpha) as api:
        body = {"name": unique_name("zterm"), "image": TEST_IMAGE, "command": SLEEP_FOREVER,
                "interactive": True}  # fmt: skip
        created = api.post("/v1/containers?run=true", json=body)
        assert created.status_code == 202, created.text
        yield wait_status(api, created.json()["uuid"], "Running")
    with keystone_deployment.client(keystone_deployment.admin) as admin:
        admin.delete(f"/v1/containers/{created.json()['uuid']}?force=true")


def test_zun_exec_interactive_is_a_terminal(
    home: Path, realm: Realm, alphas: dict[str, Any]
) -> None:
    term = _zun(home, realm, realm.alpha, "exec", "-i", alphas["name"], "sh")
    try:
        term.expect("connected to")
        size_seen(term, 30, 100)
        typed_and_answered(term)
        term.resize(45, 140)
        size_seen(term, 45, 140)
        term.type("\x04")
        assert term.wait() == 0
    finally:
        term.close()


def test_zun_run_interactive_then_attach(
    home: Path, realm: Realm, keystone_deployment: Deployment
) -> None:
    name = unique_name("zrun")
    term = _zun(home, realm, realm.alpha, "run", "-i", "--name", name, TEST_IMAGE, "sh")
    try:
        term.expect("connected to")
        size_seen(term, 30, 100)
        typed_and_answered(term)
        term.type("\x04")  # ends the shell: the container stops
        assert term.wait() == 0
    finally:
        term.close()
    with keystone_deployment.client(keystone_deployment.alpha) as api:
        wait_status(api, name, "Stopped")
        assert api.post(f"/v1/containers/{name}/start").status_code == 202
        wait_status(api, name, "Running")
        again = _zun(home, realm, realm.alpha, "attach", name, rows=22)
        try:
            again.expect("connected to")
            size_seen(again, 22, 100)
            again.type("exit 6\r")
            assert again.wait() == 0
        finally:
            again.close()
        stopped = wait_status(api, name, "Stopped")
        assert stopped["status_detail"].startswith("Exited(6)")
        api.delete(f"/v1/containers/{name}")


def test_zun_console_of_another_projects_container_is_refused(
    home: Path, realm: Realm, alphas: dict[str, Any]
) -> None:
    for args in (("exec", "-i", alphas["uuid"], "sh"), ("attach", alphas["uuid"])):
        term = _zun(home, realm, realm.beta, *args)
        try:
            term.expect("could not be found")
            assert term.wait() != 0
        finally:
            term.close()


def test_another_project_gets_no_console_url(
    keystone_deployment: Deployment, alphas: dict[str, Any]
) -> None:
    path = f"/v1/containers/{alphas['uuid']}"
    with keystone_deployment.client(keystone_deployment.beta) as beta:
        calls: list[httpx.Response] = [
            beta.post(f"{path}/execute", params={"command": "sh", "run": "false",
                                                 "interactive": "true"}),
            beta.get(f"{path}/attach"),
            beta.post(f"{path}/resize", params={"h": "20", "w": "20"}),
            beta.get(f"{path}/logs", params={"follow": "true"}),
        ]  # fmt: skip
    for response in calls:
        assert_zun_error(response, 404, "container.container-not-found")
