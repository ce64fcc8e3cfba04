"""Projects are isolated from each other; admins see everything only when they ask to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.auth.deployments import Caller, Deployment
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_gone
from tests.support.zun import assert_zun_error, unique_name

ADMIN_FIELDS = {"host", "runtime", "privileged", "image_pull_policy"}
POLICY = "container.policy-not-authorized"


@dataclass
class Twins:
    """Two containers with one name: one in alpha, one in beta."""

    name: str
    alpha: dict[str, Any]
    beta: dict[str, Any]


def create(deployment: Deployment, caller: Caller, name: str) -> httpx.Response:
    with deployment.client(caller) as api:
        return api.post("/v1/containers", json={"name": name, "image": TEST_IMAGE})


def uuids(deployment: Deployment, caller: Caller, query: str = "") -> set[str]:
    with deployment.client(caller) as api:
        response = api.get(f"/v1/containers{query}")
    assert response.status_code == 200, response.text
    return {c["uuid"] for c in response.json()["containers"]}


@pytest.fixture(scope="module")
def twins(deployment: Deployment) -> Iterator[Twins]:
    name = unique_name("twin")
    made = [create(deployment, caller, name) for caller in (deployment.alpha, deployment.beta)]
    for response in made:
        assert response.status_code == 202, response.text
    yield Twins(name, made[0].json(), made[1].json())
    with deployment.client(deployment.admin) as api:
        for response in made:
            api.delete(f"/v1/containers/{response.json()['uuid']}?force=true")
        for response in made:
            wait_gone(api, response.json()["uuid"])


def test_container_names_are_unique_within_a_project_not_across(
    deployment: Deployment, twins: Twins
) -> None:
    assert twins.alpha["project_id"] == deployment.alpha.project_id
    assert twins.beta["project_id"] == deployment.beta.project_id
    assert twins.alpha["user_id"] == deployment.alpha.user_id
    assert_zun_error(create(deployment, deployment.alpha, twins.name), 409)


def test_each_project_lists_only_its_own_containers(deployment: Deployment, twins: Twins) -> None:
    assert twins.alpha["uuid"] in uuids(deployment, deployment.alpha)
    assert twins.beta["uuid"] not in uuids(deployment, deployment.alpha)
    assert twins.beta["uuid"] in uuids(deployment, deployment.beta)
    assert twins.alpha["uuid"] not in uuids(deployment, deployment.beta)


def test_a_name_means_the_callers_own_container(deployment: Deployment, twins: Twins) -> None:
    for caller, own in ((deployment.alpha, twins.alpha), (deployment.beta, twins.beta)):
        with deployment.client(caller) as api:
            assert api.get(f"/v1/containers/{twins.name}").json()["uuid"] == own["uuid"]


def test_admin_sees_every_project_only_with_all_projects(
    deployment: Deployment, twins: Twins
) -> None:
    both = {twins.alpha["uuid"], twins.beta["uuid"]}
    assert both <= uuids(deployment, deployment.admin, "?all_projects=true")
    assert not both & uuids(deployment, deployment.admin)


def test_all_projects_is_forbidden_to_members(deployment: Deployment, twins: Twins) -> None:
    with deployment.client(deployment.alpha) as api:
        assert_zun_error(api.get("/v1/containers?all_projects=true"), 403, POLICY)
        assert_zun_error(api.get(f"/v1/containers/{twins.alpha['uuid']}?all_projects=1"), 403)


def test_admin_only_fields_are_shown_to_admins_only(deployment: Deployment, twins: Twins) -> None:
    with deployment.client(deployment.alpha) as api:
        as_member = api.get(f"/v1/containers/{twins.alpha['uuid']}").json()
    with deployment.client(deployment.admin) as api:
        as_admin = api.get(f"/v1/containers/{twins.alpha['uuid']}").json()
    assert not ADMIN_FIELDS & set(as_member)
    assert set(as_admin) >= ADMIN_FIELDS
    assert as_member["uuid"] == as_admin["uuid"]


def test_identity_headers_sent_by_the_client_are_ignored(
    deployment: Deployment, twins: Twins
) -> None:
    forged = {
        "X-Project-Id": deployment.alpha.project_id,
        "X-Tenant-Id": deployment.alpha.project_id,
        "X-User-Id": deployment.alpha.user_id,
        "X-Roles": "admin",
        "X-Identity-Status": "Confirmed",
    }
    with deployment.client(deployment.beta) as api:
        api.headers.update(forged)
        listed = {c["uuid"] for c in api.get("/v1/containers").json()["containers"]}
        assert twins.alpha["uuid"] not in listed
        assert_zun_error(api.get(f"/v1/containers/{twins.alpha['uuid']}"), 404)
        assert_zun_error(api.get("/v1/containers?all_projects=true"), 403)
    with deployment.client(None) as api:
        api.headers.update(forged)
        assert_zun_error(api.get("/v1/containers"), 401)


def test_version_documents_need_no_token(deployment: Deployment) -> None:
    with deployment.client(None) as api:
        assert api.get("/").status_code == 200
        assert api.get("/v1").status_code == 200
        assert api.get("/v1/").status_code == 200


def test_unknown_paths_need_a_token_too(deployment: Deployment) -> None:
    with deployment.client(None) as api:
        response = api.get("/v1/no-such-thing")
    assert_zun_error(response, 401, "container.unauthenticated")
    assert response.headers["WWW-Authenticate"]


def test_no_secret_reaches_the_log_or_a_response(deployment: Deployment) -> None:
    answers = []
    for caller in (deployment.alpha, deployment.admin):
        with deployment.client(caller) as api:
            answers.append(api.get("/v1/containers").text)
    bad = Caller("bad", deployment.alpha.token + "x", "", "")
    with deployment.client(bad) as api:
        answers.append(api.get("/v1/containers").text)
    text = deployment.server.log_path.read_text(errors="replace") + "".join(answers)
    assert "DEBUG" in text  # the server logs at debug level: the check covers the most
    for secret in (*deployment.secrets, bad.token):
        assert secret not in text
