"""An operator's policy file, given to a real `dockyard serve --auth tokens`, changes who may
do what; tenancy still holds whatever the file says."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.deployments import Deployment, start_tokens_deployment
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_gone, wait_status
from tests.support.zun import assert_zun_error, unique_name

POLICY = """\
# members may force-delete their own containers; nobody may pause; everyone sees the host
"container:delete_force": "rule:admin_or_owner"
"container:pause": "!"
"container:get_one:host": "@"
"""


@pytest.fixture(scope="module")
def relaxed(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("policy")
    (workdir / "policy.yaml").write_text(POLICY)
    deployment = start_tokens_deployment(workdir, policy_file=workdir / "policy.yaml")
    yield deployment
    deployment.server.stop()
    deployment.server.remove_engine_objects()


@pytest.fixture
def running(relaxed: Deployment) -> Iterator[dict[str, Any]]:
    body = {"name": unique_name("pol"), "image": TEST_IMAGE, "command": SLEEP_FOREVER}
    with relaxed.client(relaxed.alpha) as api:
        response = api.post("/v1/containers?run=true", json=body)
        assert response.status_code == 202, response.text
        container = wait_status(api, response.json()["uuid"], "Running")
    yield container
    with relaxed.client(relaxed.admin) as api:
        if api.get(f"/v1/containers/{container['uuid']}").status_code == 200:
            api.delete(f"/v1/containers/{container['uuid']}?force=true")
            wait_gone(api, container["uuid"])


def test_a_rule_the_file_allows_lets_members_force_delete(
    relaxed: Deployment, running: dict[str, Any]
) -> None:
    with relaxed.client(relaxed.beta) as api:  # but not another project's container
        assert_zun_error(api.delete(f"/v1/containers/{running['uuid']}?force=true"), 404)
    with relaxed.client(relaxed.alpha) as api:
        assert api.delete(f"/v1/containers/{running['uuid']}?force=true").status_code == 204
        wait_gone(api, running["uuid"])


def test_a_rule_the_file_denies_is_refused_even_to_admins(
    relaxed: Deployment, running: dict[str, Any]
) -> None:
    for caller in (relaxed.alpha, relaxed.admin):
        with relaxed.client(caller) as api:
            response = api.post(f"/v1/containers/{running['uuid']}/pause")
            error = assert_zun_error(response, 403, "container.policy-not-authorized")
            assert "container:pause" in error["title"]
    with relaxed.client(relaxed.alpha) as api:
        assert api.get(f"/v1/containers/{running['uuid']}").json()["status"] == "Running"


def test_a_field_rule_the_file_opens_shows_the_field_to_members(
    relaxed: Deployment, running: dict[str, Any]
) -> None:
    with relaxed.client(relaxed.alpha) as api:
        shown = api.get(f"/v1/containers/{running['uuid']}").json()
    assert shown["host"]
    assert "runtime" not in shown  # rules the file leaves out keep their defaults


def test_rules_left_out_keep_their_defaults(relaxed: Deployment) -> None:
    with relaxed.client(relaxed.alpha) as api:
        assert_zun_error(api.get("/v1/containers?all_projects=true"), 403)
        assert_zun_error(api.get("/v1/hosts"), 403)
