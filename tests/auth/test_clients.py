"""The real clients as different projects: `zun` and `openstack appcontainer` through a real
Keystone (password login, catalog lookup), and `openstack` with a static API token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.auth.deployments import Caller, Deployment
from tests.support.keystone import Realm, User
from tests.support.testimage import TEST_IMAGE
from tests.support.zun import unique_name

BIN = Path(sys.executable).parent


def run_client(
    home: Path, command: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    # A clean environment: no stray OS_* variables and no clouds.yaml of the user's.
    clean = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **env}
    done = subprocess.run(
        command, capture_output=True, text=True, env=clean, timeout=120, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("client-home")


def _create(deployment: Deployment, caller: Caller) -> dict[str, Any]:
    with deployment.client(caller) as api:
        response = api.post(
            "/v1/containers", json={"name": unique_name("cli"), "image": TEST_IMAGE}
        )
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(scope="module")
def owned(keystone_deployment: Deployment) -> Iterator[dict[str, dict[str, Any]]]:
    """One container in alpha and one in beta, by name of project."""
    made = {
        p: _create(keystone_deployment, getattr(keystone_deployment, p)) for p in ("alpha", "beta")
    }
    yield made
    with keystone_deployment.client(keystone_deployment.admin) as api:
        for container in made.values():
            api.delete(f"/v1/containers/{container['uuid']}?force=true")


def zun(home: Path, realm: Realm, user: User, *args: str) -> subprocess.CompletedProcess[str]:
    return run_client(home, [str(BIN / "zun"), *args], user.openrc(realm.keystone.url))


def osc(home: Path, realm: Realm, user: User, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "openstack"), "appcontainer", *args]
    return run_client(home, command, user.openrc(realm.keystone.url))


@pytest.mark.parametrize("project", ["alpha", "beta"])
def test_zun_cli_through_keystone_lists_only_the_projects_containers(
    home: Path, realm: Realm, owned: dict[str, dict[str, Any]], project: str
) -> None:
    done = zun(home, realm, getattr(realm, project), "list")
    assert done.returncode == 0, done.stderr
    other = "beta" if project == "alpha" else "alpha"
    assert owned[project]["uuid"] in done.stdout
    assert owned[other]["uuid"] not in done.stdout


def test_zun_cli_member_may_not_list_all_projects_but_the_admin_may(
    home: Path, realm: Realm, owned: dict[str, dict[str, Any]]
) -> None:
    refused = zun(home, realm, realm.alpha, "list", "--all-projects")
    assert refused.returncode != 0
    assert "container:get_all_all_projects" in refused.stderr
    allowed = zun(home, realm, realm.admin, "list", "--all-projects")
    assert allowed.returncode == 0, allowed.stderr
    assert all(c["uuid"] in allowed.stdout for c in owned.values())


def test_zun_cli_action_list_and_show_through_keystone(
    home: Path, realm: Realm, keystone_deployment: Deployment
) -> None:
    with keystone_deployment.client(keystone_deployment.alpha) as api:
        created = api.post("/v1/containers", json={"name": unique_name("za"), "image": TEST_IMAGE})
        assert created.status_code == 202, created.text
        uuid, request_id = created.json()["uuid"], created.headers["x-openstack-request-id"]
    try:
        listed = zun(home, realm, realm.alpha, "action-list", uuid)
        assert listed.returncode == 0, listed.stderr
        assert request_id in listed.stdout
        assert "create" in listed.stdout
        shown = zun(home, realm, realm.alpha, "action-show", uuid, request_id)
        assert shown.returncode == 0, shown.stderr
        assert "api_create" in shown.stdout
        assert "Success" in shown.stdout
        refused = zun(home, realm, realm.beta, "action-list", uuid)  # another project's
        assert refused.returncode != 0
        assert "could not be found" in refused.stderr
    finally:
        with keystone_deployment.client(keystone_deployment.admin) as api:
            api.delete(f"/v1/containers/{uuid}?force=true")


@pytest.mark.parametrize("project", ["alpha", "beta"])
def test_openstack_cli_through_keystone_lists_only_the_projects_containers(
    home: Path, realm: Realm, owned: dict[str, dict[str, Any]], project: str
) -> None:
    done = osc(home, realm, getattr(realm, project), "list", "-f", "json")
    assert done.returncode == 0, done.stderr
    listed = {row["uuid"] for row in json.loads(done.stdout)}
    other = "beta" if project == "alpha" else "alpha"
    assert owned[project]["uuid"] in listed
    assert owned[other]["uuid"] not in listed


def test_openstack_cli_member_may_not_list_all_projects(
    home: Path, realm: Realm, owned: dict[str, dict[str, Any]]
) -> None:
    refused = osc(home, realm, realm.beta, "list", "--all-projects")
    assert refused.returncode != 0
    assert "container:get_all_all_projects" in refused.stderr


def test_openstack_and_dockyard_clis_with_a_static_api_token(
    home: Path, tokens_deployment: Deployment
) -> None:
    deployment = tokens_deployment
    mine = _create(deployment, deployment.beta)
    theirs = _create(deployment, deployment.alpha)
    try:
        options = ["--os-auth-type", "admin_token", f"--os-token={deployment.beta.token}"]
        options += ["--os-endpoint", f"{deployment.server.url}/v1"]
        command = [str(BIN / "openstack"), *options, "appcontainer", "list", "-f", "json"]
        done = run_client(home, command, {})
        assert done.returncode == 0, done.stderr
        listed = {row["uuid"] for row in json.loads(done.stdout)}
        assert mine["uuid"] in listed
        assert theirs["uuid"] not in listed
        bad = run_client(home, [*command[:4], "wrong-token", *command[5:]], {})
        assert bad.returncode != 0
        env = {"DOCKYARD_URL": deployment.server.url, "DOCKYARD_TOKEN": deployment.beta.token}
        ours = run_client(home, [str(BIN / "dockyard"), "list", "--format", "json"], env)
        assert ours.returncode == 0, ours.stderr
        listed = {row["uuid"] for row in json.loads(ours.stdout)}
        assert mine["uuid"] in listed
        assert theirs["uuid"] not in listed
    finally:
        with deployment.client(deployment.admin) as api:
            for container in (mine, theirs):
                api.delete(f"/v1/containers/{container['uuid']}?force=true")
