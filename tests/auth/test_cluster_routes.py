"""The clustering API's routes: every one has a policy rule and needs a token (errors in
Senlin's format), and one project never reaches another's clusters, profiles, policies,
receivers, actions or events; a webhook needs no token and acts in its creator's project."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dockyard.api.routes.cluster.app import create_cluster_app
from dockyard.api.routes.cluster.rules import PUBLIC_ROUTES, ROUTE_RULES
from dockyard.services.policy import DEFAULT_RULES
from tests.auth.deployments import Caller, Deployment
from tests.auth.test_every_route import app_routes
from tests.support.testimage import TEST_IMAGE
from tests.support.zun import unique_name

ROUTES = sorted(app_routes(create_cluster_app(FastAPI())) - PUBLIC_ROUTES)
SPEC = {"type": "container.dockyard", "version": "1.0", "properties": {"image": TEST_IMAGE}}
SCALING = {"type": "senlin.policy.scaling", "version": "1.0",
           "properties": {"event": "CLUSTER_SCALE_OUT"}}  # fmt: skip


def test_every_cluster_route_has_a_policy_rule() -> None:
    assert sorted(set(ROUTES) - set(ROUTE_RULES)) == []
    assert set(ROUTE_RULES.values()) <= set(DEFAULT_RULES)


@pytest.fixture
def deployment(tokens_deployment: Deployment) -> Deployment:
    return tokens_deployment


def client(deployment: Deployment, caller: Caller | None) -> httpx.Client:
    headers = {"OpenStack-API-Version": "clustering 1.14"}
    if caller is not None:
        headers["X-Auth-Token"] = caller.token
    return httpx.Client(base_url=f"{deployment.server.url}/cluster", headers=headers, timeout=30)


def senlin_error(response: httpx.Response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status
    assert body["error"]["type"] == kind
    assert body["error"]["message"]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_cluster_route_without_a_token_is_401(
    deployment: Deployment, method: str, path: str
) -> None:
    url = path.format(ident="x", name="x", policy="x")
    with client(deployment, None) as api:
        response = api.request(method, url, json={} if method != "GET" else None)
    senlin_error(response, 401, "HTTPUnauthorized")
    assert response.headers["WWW-Authenticate"]


@pytest.fixture
def alphas(deployment: Deployment) -> Iterator[dict[str, Any]]:
    """alpha's profile, policy, cluster (no members) and webhook receiver."""
    name = unique_name("tenant")
    with client(deployment, deployment.alpha) as api:
        profile = api.post("/v1/profiles", json={"profile": {"name": name, "spec": SPEC}})
        policy = api.post("/v1/policies", json={"policy": {"name": name, "spec": SCALING}})
        body = {"name": name, "profile_id": name, "desired_capacity": "0", "max_size": "1"}
        cluster = api.post("/v1/clusters", json={"cluster": body})
        assert cluster.status_code == 202, cluster.text
        receiver = api.post("/v1/receivers", json={"receiver": {
            "name": name, "type": "webhook", "cluster_id": name,
            "action": "CLUSTER_SCALE_OUT"}})  # fmt: skip
        assert receiver.status_code == 201, receiver.text
        found = {
            "name": name, "profile": profile.json()["profile"]["id"],
            "policy": policy.json()["policy"]["id"], "cluster": cluster.json()["cluster"]["id"],
            "receiver": receiver.json()["receiver"],
        }  # fmt: skip
        yield found
        api.delete(f"/v1/clusters/{found['cluster']}")


def test_another_project_reaches_none_of_its_objects(
    deployment: Deployment, alphas: dict[str, Any]
) -> None:
    ident = alphas["cluster"]
    with client(deployment, deployment.beta) as api:
        for path in (
            f"/v1/clusters/{ident}",
            f"/v1/clusters/{alphas['name']}",
            f"/v1/profiles/{alphas['profile']}",
            f"/v1/policies/{alphas['policy']}",
            f"/v1/receivers/{alphas['receiver']['id']}",
            f"/v1/clusters/{ident}/policies",
        ):
            senlin_error(api.get(path), 404, "ResourceNotFound")  # fmt: skip
        senlin_error(api.patch(f"/v1/clusters/{ident}", json={"cluster": {"name": "mine"}}),
                     404, "ResourceNotFound")  # fmt: skip
        senlin_error(api.delete(f"/v1/clusters/{ident}"), 404, "ResourceNotFound")
        senlin_error(api.post(f"/v1/clusters/{ident}/actions", json={"scale_out": {}}),
                     404, "ResourceNotFound")  # fmt: skip
        for collection in ("clusters", "profiles", "policies", "receivers", "actions", "events"):
            listed = api.get(f"/v1/{collection}")
            assert listed.status_code == 200, listed.text
            assert ident not in listed.text
            assert alphas["profile"] not in listed.text
        senlin_error(api.get("/v1/clusters", params={"global_project": "true"}), 403, "Forbidden")


def test_webhook_needs_no_token_and_acts_as_its_creator(
    deployment: Deployment, alphas: dict[str, Any]
) -> None:
    url = alphas["receiver"]["channel"]["alarm_url"]
    with httpx.Client(timeout=30) as plain:
        senlin_error(plain.post(url.split("?")[0]), 400, "BadRequest")  # V is mandatory
        triggered = plain.post(url)
        assert triggered.status_code == 202, triggered.text
        assert triggered.headers["Location"].endswith(triggered.json()["action"])
        senlin_error(plain.post(url.replace("webhooks/", "webhooks/x")), 404, "ResourceNotFound")
    with client(deployment, deployment.alpha) as api:
        shown = api.get(f"/v1/clusters/{alphas['cluster']}").json()["cluster"]
        action = api.get(f"/v1/actions/{triggered.json()['action']}").json()["action"]
    assert shown["desired_capacity"] == 1
    assert (action["action"], action["project"]) == ("CLUSTER_SCALE_OUT", "alpha")
    with client(deployment, deployment.beta) as api:  # the secret is the owner's only
        assert url not in api.get("/v1/receivers").text
