"""The networking API's routes (/network, Neutron's v2.0 subset): every one has a policy rule
and needs a token (errors in Neutron's format), and one project never sees or changes
another's networks, subnets, pools, ports or security groups — also through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dockyard.api.routes.network.app import create_network_app
from dockyard.api.routes.network.rules import PUBLIC_ROUTES, ROUTE_RULES
from dockyard.services.policy import DEFAULT_RULES
from tests.auth.deployments import Caller, Deployment
from tests.auth.test_every_route import app_routes
from tests.support.keystone import Realm
from tests.support.neutron import NeutronCli
from tests.support.osc import OPENSTACK
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.zun import assert_zun_error, unique_name

ROUTES = sorted(app_routes(create_network_app(FastAPI())) - PUBLIC_ROUTES)
MISSING = "8d3e4c84-7fd0-4bd4-b5a9-0fd2a3b8c1aa"


def test_every_network_route_has_a_policy_rule() -> None:
    assert sorted(set(ROUTES) - set(ROUTE_RULES)) == []
    assert {f"neutron:{r}" for r in ROUTE_RULES.values()} <= set(DEFAULT_RULES)


@pytest.fixture
def deployment(tokens_deployment: Deployment) -> Deployment:
    return tokens_deployment


def client(deployment: Deployment, caller: Caller | None) -> httpx.Client:
    headers = {"X-Auth-Token": caller.token} if caller is not None else {}
    return httpx.Client(base_url=f"{deployment.server.url}/network", headers=headers, timeout=30)


def neutron_error(response: httpx.Response, status: int, kind: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["NeutronError"]["type"] == kind


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_network_route_without_a_token_is_401(
    deployment: Deployment, method: str, path: str
) -> None:
    url = path.format(ident=MISSING, alias="x")
    with client(deployment, None) as api:
        response = api.request(method, url, json={} if method in ("POST", "PUT") else None)
    neutron_error(response, 401, "HTTPUnauthorized")
    assert response.headers["WWW-Authenticate"]


def test_version_document_needs_no_token(deployment: Deployment) -> None:
    with client(deployment, None) as api:
        assert api.get("/").json()["versions"][0]["id"] == "v2.0"


@pytest.fixture(scope="module")
def alphas(tokens_deployment: Deployment) -> Iterator[dict[str, Any]]:
    """alpha's network with a subnet, and a subnet pool."""
    with client(tokens_deployment, tokens_deployment.alpha) as api:
        net = api.post("/v2.0/networks", json={"network": {"name": unique_name("a")}})
        net_id = net.json()["network"]["id"]
        body = {"subnet": {"network_id": net_id, "cidr": "10.40.0.0/24"}}
        subnet = api.post("/v2.0/subnets", json=body).json()["subnet"]
        body = {"subnetpool": {"name": unique_name("ap"), "prefixes": ["10.41.0.0/16"]}}
        pool = api.post("/v2.0/subnetpools", json=body).json()["subnetpool"]
        yield {"networks": net_id, "subnets": subnet["id"], "subnetpools": pool["id"]}
        api.delete(f"/v2.0/networks/{net_id}")
        api.delete(f"/v2.0/subnetpools/{pool['id']}")


@pytest.mark.parametrize("collection", ["networks", "subnets", "subnetpools"])
def test_another_project_neither_sees_nor_changes(
    tokens_deployment: Deployment, alphas: dict[str, Any], collection: str
) -> None:
    ident = alphas[collection]
    kind = {"networks": "NetworkNotFound", "subnets": "SubnetNotFound",
            "subnetpools": "SubnetPoolNotFound"}[collection]  # fmt: skip
    one = collection[:-1]
    with client(tokens_deployment, tokens_deployment.beta) as api:
        listed = api.get(f"/v2.0/{collection}").json()[collection]
        assert ident not in [row["id"] for row in listed]
        neutron_error(api.get(f"/v2.0/{collection}/{ident}"), 404, kind)
        neutron_error(api.put(f"/v2.0/{collection}/{ident}", json={one: {"name": "x"}}), 404, kind)
        neutron_error(api.delete(f"/v2.0/{collection}/{ident}"), 404, kind)
    with client(tokens_deployment, tokens_deployment.alpha) as api:
        assert api.get(f"/v2.0/{collection}/{ident}").status_code == 200


def test_another_project_cannot_add_a_subnet_to_alphas_network(
    tokens_deployment: Deployment, alphas: dict[str, Any]
) -> None:
    body = {"subnet": {"network_id": alphas["networks"], "cidr": "10.42.0.0/24"}}
    with client(tokens_deployment, tokens_deployment.beta) as api:
        neutron_error(api.post("/v2.0/subnets", json=body), 404, "NetworkNotFound")
        shared = {"network": {"name": "s", "shared": True}}
        neutron_error(api.post("/v2.0/networks", json=shared), 403, "PolicyNotAuthorized")


def test_the_cli_of_another_project_finds_nothing(
    tokens_deployment: Deployment, alphas: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    home = tmp_path_factory.mktemp("beta-home")
    beta = NeutronCli(tokens_deployment.server.url, home, tokens_deployment.beta.token)
    assert alphas["networks"] not in [n["ID"] for n in beta.json("network", "list")]
    assert "No Network found" in beta.fails("network", "show", alphas["networks"])
    mine = beta.json("network", "create", unique_name("b"))
    assert mine["project_id"] == tokens_deployment.beta.project_id
    beta.run("network", "delete", mine["id"])


def test_another_project_cannot_attach_to_alphas_network(
    tokens_deployment: Deployment, alphas: dict[str, Any]
) -> None:
    """Neither on create (`nets`) nor by network_attach: 404, as if it did not exist."""
    net = alphas["networks"]
    with tokens_deployment.client(tokens_deployment.beta) as api:
        body = {"image": TEST_IMAGE, "nets": [{"network": net}]}
        assert_zun_error(api.post("/v1/containers", json=body), 404)
        made = api.post("/v1/containers", json={"image": TEST_IMAGE, "command": SLEEP_FOREVER})
        assert made.status_code == 202, made.text
        uuid = made.json()["uuid"]
        attach = api.post(f"/v1/containers/{uuid}/network_attach", params={"network": net})
        assert_zun_error(attach, 404)
        assert set(api.get(f"/v1/containers/{uuid}").json()["addresses"]) != {net}
        api.delete(f"/v1/containers/{uuid}", params={"force": "true"})
    with tokens_deployment.client(tokens_deployment.alpha) as api:
        made = api.post("/v1/containers", json={"image": TEST_IMAGE, "nets": [{"network": net}]})
        assert made.status_code == 202, made.text
        assert set(made.json()["addresses"]) == {net}
        api.delete(f"/v1/containers/{made.json()['uuid']}", params={"force": "true"})


def test_openstack_network_through_the_keystone_catalog(
    keystone_deployment: Deployment, realm: Realm, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`openstack network …` logged in with a password finds Dockyard by the catalog's
    `network` entry and acts in the user's project."""
    home = tmp_path_factory.mktemp("ks-net-home")
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8",
           **realm.alpha.openrc(realm.keystone.url)}  # fmt: skip

    def openstack(*args: str) -> Any:
        done = subprocess.run([OPENSTACK, *args, "-f", "json"], capture_output=True, text=True,
                              env=env, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else None

    name = unique_name("ks")
    made = openstack("network", "create", name)
    assert made["project_id"] == realm.alpha.project_id
    assert name in [n["Name"] for n in openstack("network", "list")]
    with client(keystone_deployment, keystone_deployment.beta) as api:
        neutron_error(api.get(f"/v2.0/networks/{made['id']}"), 404, "NetworkNotFound")
    subprocess.run([OPENSTACK, "network", "delete", name], env=env, timeout=120, check=True,
                   capture_output=True)  # fmt: skip
