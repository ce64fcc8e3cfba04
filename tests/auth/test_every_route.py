"""Every API route, called without a token, with a bad token, as another project, and as a
member asking for an admin operation — against `--auth tokens` and `--auth keystone`.

The routes come from the application itself, so a new route fails this test until CALLS says
how to call it; only the public version documents and the agent API are left out, by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dockyard.api.app import create_app
from dockyard.api.auth.routepolicy import ROUTE_RULES
from dockyard.services.policy import DEFAULT_RULES
from dockyard.settings import AuthSettings, Settings
from tests.auth.deployments import Caller, Deployment
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import assert_zun_error, unique_name

# The only routes that need no user token: Zun's acl_public_routes, and the agent API.
EXEMPT = {
    ("GET", "/"), ("GET", "/v1"), ("GET", "/v1/"),
    ("POST", "/agent/v1/hosts"), ("PUT", "/agent/v1/hosts/{host_uuid}"),
    ("POST", "/agent/v1/hosts/{host_uuid}/credential"),
    ("POST", "/agent/v1/hosts/{host_uuid}/heartbeat"),
    ("GET", "/agent/v1/hosts/{host_uuid}/assignments"),
    ("POST", "/agent/v1/hosts/{host_uuid}/reports"),
}  # fmt: skip
LISTED = "listed"  # as another project: 200, and the victim is not in the list
SHOWN = "shown"  # as another project: 200, and nothing of the victim's in the body
CREATED = "created"  # as another project: 202 with a new object of the caller's own
REGISTERED = "registered"  # as another project: 201 with a registry of the caller's own
NAMED = "named"  # as another project: 200 with a container network of the caller's own
VOLUME_MADE = "volume made"  # as another project: 201 with a volume of the caller's own


@dataclass(frozen=True)
class Call:
    """How to call a route, and what another project gets from it."""

    params: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    version: str = "1.40"
    as_other: int | str = 404
    admin_only: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → params/body


def capsule_template(name: str) -> dict[str, Any]:
    container = {"image": TEST_IMAGE, "command": SLEEP_FOREVER}
    return {"kind": "capsule", "metadata": {"name": name}, "spec": {"containers": [container]}}


def _container(image: str = TEST_IMAGE, **extra: Any) -> dict[str, Any]:
    return {"image": image, **extra}


C, S, K = "/v1/containers/{ident}", "/v1/sandboxes", "/v1/capsules"
ALL = {"all_projects": "true"}
CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/v1/containers"): Call(
        body=_container(),
        as_other=CREATED,
        admin_only={
            "privileged": {"body": _container(privileged=True)},
            "runtime": {"body": _container(runtime="runc")},
            "image_pull_policy": {"body": _container(image_pull_policy="never")},
            "host": {"body": _container(host="somewhere")},
        },
    ),
    ("GET", "/v1/containers"): Call(
        as_other=LISTED,
        admin_only={"all_projects": {"params": ALL}, "host": {"params": {"host": "x"}}},
    ),
    ("GET", C): Call(admin_only={"all_projects": {"params": ALL}}),
    ("PATCH", C): Call(body={"auto_heal": False}),
    ("DELETE", C): Call(
        admin_only={"force": {"params": {"force": "true"}}, "all_projects": {"params": ALL}}
    ),
    **{("POST", f"{C}/{a}"): Call() for a in ("start", "stop", "reboot", "pause", "unpause")},
    ("POST", f"{C}/kill"): Call(params={"signal": "SIGKILL"}),
    ("POST", f"{C}/rename"): Call(params={"name": "renamed"}, version="1.13"),
    ("POST", f"{C}/execute"): Call(params={"command": "true"}),
    ("POST", f"{C}/execute_resize"): Call(params={"exec_id": "0" * 64, "h": "24", "w": "80"}),
    ("GET", f"{C}/attach"): Call(),
    ("POST", f"{C}/resize"): Call(params={"h": "24", "w": "80"}),
    **{("GET", f"{C}/{q}"): Call() for q in ("logs", "top", "stats")},
    ("GET", f"{C}/get_archive"): Call(params={"path": "/etc"}),
    ("POST", f"{C}/put_archive"): Call(params={"path": "/tmp"}, body={"data": "eA=="}),
    ("POST", f"{C}/commit"): Call(params={"repository": "dockyard-test/auth-commit"}),
    ("POST", f"{C}/resize_container"): Call(body={"memory": "64"}),
    ("POST", f"{C}/rebuild"): Call(),
    ("POST", f"{C}/network_attach"): Call(params={"network": "x"}),
    ("POST", f"{C}/network_detach"): Call(params={"network": "x"}),
    ("GET", f"{C}/network_list"): Call(),
    ("POST", f"{C}/add_security_group"): Call(params={"name": "default"}, version="1.14"),
    ("POST", f"{C}/remove_security_group"): Call(params={"name": "default"}, version="1.14"),
    ("GET", f"{C}/container_actions"): Call(),
    ("GET", f"{C}/container_actions/{{request_id}}"): Call(),
    ("POST", "/v1/images"): Call(
        body={"repo": TEST_IMAGE, "host": "nowhere"}, as_other=403, admin_only={"plain": {}}
    ),
    **{
        (method, path): Call(as_other=403, admin_only={"plain": {}})
        for method, path in (
            ("GET", "/v1/images"),
            ("GET", "/v1/images/{ident}"),
            ("DELETE", "/v1/images/{ident}"),
        )
    },
    ("GET", "/v1/images/{image:path}/search"): Call(as_other=SHOWN),
    ("POST", "/v1/registries"): Call(
        body={"registry": {"domain": "registry.example:5000"}}, as_other=REGISTERED
    ),
    ("GET", "/v1/registries"): Call(as_other=LISTED, admin_only={"all_projects": {"params": ALL}}),
    ("GET", "/v1/registries/{ident}"): Call(),
    ("PATCH", "/v1/registries/{ident}"): Call(body={"registry": {"name": "renamed"}}),
    ("DELETE", "/v1/registries/{ident}"): Call(),
    ("POST", "/v1/networks"): Call(body={"name": "mine"}, as_other=NAMED),
    ("GET", "/v1/networks"): Call(as_other=LISTED),
    ("GET", "/v1/networks/{ident}"): Call(),
    ("DELETE", "/v1/networks/{ident}"): Call(version="1.27"),
    ("POST", "/v1/volumes"): Call(
        body={"volume": {"name": "beta-vol"}},
        as_other=VOLUME_MADE,
        admin_only={"host": {"body": {"volume": {"name": "pinned", "host": "somewhere"}}}},
    ),
    ("GET", "/v1/volumes"): Call(as_other=LISTED, admin_only={"all_projects": {"params": ALL}}),
    ("GET", "/v1/volumes/{ident}"): Call(),
    ("DELETE", "/v1/volumes/{ident}"): Call(),
    ("GET", "/v1/hosts"): Call(as_other=403, admin_only={"plain": {}}),
    ("GET", "/v1/hosts/{ident}"): Call(as_other=403, admin_only={"plain": {}}),
    ("GET", "/v1/services"): Call(as_other=403, admin_only={"plain": {}}),
    **{
        ("PUT", f"/v1/services/{action}"): Call(
            params={"host": "nowhere", "binary": "zun-compute"},
            as_other=403,
            admin_only={"plain": {}},
        )
        for action in ("enable", "disable", "force_down")
    },
    ("DELETE", "/v1/services"): Call(
        params={"host": "nowhere", "binary": "zun-compute"}, as_other=403, admin_only={"plain": {}}
    ),
    ("GET", "/v1/availability_zones"): Call(as_other=SHOWN),
    ("GET", S): Call(as_other=LISTED, admin_only={"all_projects": {"params": ALL}}),
    ("GET", f"{S}/{{ident}}"): Call(),
    ("POST", K): Call(body={"template": capsule_template("caps")}, as_other=CREATED),
    ("GET", K): Call(as_other=LISTED, admin_only={"all_projects": {"params": ALL}}),
    ("GET", f"{K}/{{ident}}"): Call(admin_only={"all_projects": {"params": ALL}}),
    ("DELETE", f"{K}/{{ident}}"): Call(admin_only={"all_projects": {"params": ALL}}),
    ("GET", "/v1/quotas/{project_id}"): Call(as_other=403),
    ("GET", "/v1/quotas/{project_id}/defaults"): Call(as_other=403),
    ("PUT", "/v1/quotas/{project_id}"): Call(
        body={"containers": 5}, as_other=403, admin_only={"plain": {}}
    ),
    ("DELETE", "/v1/quotas/{project_id}"): Call(as_other=403, admin_only={"plain": {}}),
    ("GET", "/v1/quota_classes/{class_name}"): Call(as_other=403, admin_only={"plain": {}}),
    ("PUT", "/v1/quota_classes/{class_name}"): Call(
        body={"containers": 5}, as_other=403, admin_only={"plain": {}}
    ),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the application serves, however routers nest."""
    try:  # FastAPI ≥0.120 keeps included routers nested; this walks them
        from fastapi.routing import iter_route_contexts

        found = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]
    except ImportError:  # older FastAPI: app.routes is already flat
        found = [(getattr(r, "path", None), r) for r in app.routes]
    return {
        (method, path)
        for path, route in found
        for method in getattr(route, "methods", None) or ()
        if isinstance(path, str) and method != "HEAD"
    }


ROUTES = sorted(app_routes(create_app(Settings(auth=AuthSettings()))) - EXEMPT)


def test_every_route_is_called_here_and_has_a_policy_rule() -> None:
    assert sorted(set(ROUTES) - set(CALLS)) == [], "add these routes to CALLS"
    assert sorted(set(ROUTES) - set(ROUTE_RULES)) == [], "add these routes to ROUTE_RULES"
    assert {r.rule for r in ROUTE_RULES.values()} <= set(DEFAULT_RULES)
    assert {r.all_projects for r in ROUTE_RULES.values() if r.all_projects} <= set(DEFAULT_RULES)


def _cases() -> Iterator[Any]:
    for method, path in ROUTES:
        call = CALLS.get((method, path), Call())
        for case in ("no-token", "bad-token", "other-project"):
            yield pytest.param(method, path, case, None, id=f"{case}:{method} {path}")
        for name in call.admin_only:
            yield pytest.param(method, path, "member", name, id=f"member-{name}:{method} {path}")


@dataclass
class Victims:
    """alpha's objects that beta must not reach."""

    container: dict[str, Any]
    sandbox: str
    capsule: str
    host: str
    registry: str
    network: str
    volume: str

    def ident(self, path: str) -> str:
        families = {"/v1/sandboxes": self.sandbox, "/v1/capsules": self.capsule}
        families["/v1/hosts"] = self.host
        families["/v1/registries"] = self.registry
        families["/v1/networks"] = self.network
        families["/v1/volumes"] = self.volume
        for prefix, ident in families.items():
            if path.startswith(prefix):
                return ident
        return str(self.container["uuid"])


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture(scope="module")
def victims(deployment: Deployment) -> Iterator[Victims]:
    with deployment.client(deployment.alpha) as api:
        body = _container(name=unique_name("victim"), command=SLEEP_FOREVER)
        container = _post(api, "/v1/containers", body)
        capsule = _post(api, "/v1/capsules", {"template": capsule_template(unique_name("vc"))})

        def sandbox_of_container() -> str | None:
            for sandbox in api.get("/v1/sandboxes").json()["sandboxes"]:
                if container["uuid"] in sandbox["containers"]:
                    return str(sandbox["uuid"])
            return None

        sandbox = wait_for(sandbox_of_container, what="the victim's sandbox")
        registry = api.post("/v1/registries", json={"registry": {"domain": "victim.example"}})
        assert registry.status_code == 201, registry.text
        network = api.post("/v1/networks", json={"name": unique_name("victim")})
        assert network.status_code == 200, network.text
        volume = api.post("/v1/volumes", json={"volume": {"name": unique_name("victim-vol")}})
        assert volume.status_code == 201, volume.text
    assert deployment.server.host_uuid
    registry_uuid = registry.json()["registry"]["uuid"]
    network_uuid = network.json()["uuid"]
    volume_uuid = volume.json()["volume"]["uuid"]
    yield Victims(
        container, sandbox, capsule["uuid"], deployment.server.host_uuid, registry_uuid,
        network_uuid, volume_uuid,
    )  # fmt: skip
    with deployment.client(deployment.admin, "1.27") as api:
        api.delete(f"/v1/networks/{network_uuid}")
        api.delete(f"/v1/volumes/{volume_uuid}")
        api.delete(f"/v1/registries/{registry_uuid}")
        api.delete(f"/v1/capsules/{capsule['uuid']}")
        api.delete(f"/v1/containers/{container['uuid']}?force=true")


def _request(
    deployment: Deployment, caller: Caller | None, method: str, url: str, call: Call, **over: Any
) -> httpx.Response:
    params = over.get("params", call.params)
    body = over.get("body", call.body)
    with deployment.client(caller, call.version) as api:
        return api.request(method, url, params=params, json=body)


@pytest.mark.parametrize(("method", "path", "case", "variant"), list(_cases()))
def test_route_refuses_whoever_may_not_use_it(
    deployment: Deployment, victims: Victims, method: str, path: str, case: str, variant: str | None
) -> None:
    call = CALLS[(method, path)]
    url = path.replace("{image:path}", "{image}").format(
        image=TEST_IMAGE,
        ident=victims.ident(path),
        project_id=deployment.alpha.project_id,
        class_name="default",
        request_id="req-00000000-0000-0000-0000-000000000000",
    )
    if case in ("no-token", "bad-token"):
        bad = Caller("bad", "not-a-valid-token", "", "") if case == "bad-token" else None
        response = _request(deployment, bad, method, url, call)
        assert_zun_error(response, 401, "container.unauthenticated")
        assert response.headers["WWW-Authenticate"]
    elif case == "member":
        response = _request(
            deployment, deployment.alpha, method, url, call, **call.admin_only[variant or ""]
        )
        assert_zun_error(response, 403, "container.policy-not-authorized")
    else:
        _as_other_project(deployment, victims, method, url, call)
    _assert_victims_intact(deployment, victims)


def _as_other_project(
    deployment: Deployment, victims: Victims, method: str, url: str, call: Call
) -> None:
    response = _request(deployment, deployment.beta, method, url, call)
    if call.as_other == LISTED:
        assert response.status_code == 200, response.text
        listed = {
            item["uuid"]
            for items in response.json().values()
            if isinstance(items, list)
            for item in items
        }
        mine = {victims.container["uuid"], victims.sandbox, victims.capsule, victims.registry,
                victims.network, victims.volume}  # fmt: skip
        assert not mine & listed
    elif call.as_other == SHOWN:
        assert response.status_code == 200, response.text
        victim_ids = (victims.container["uuid"], victims.sandbox, victims.capsule)
        assert not [v for v in victim_ids if v in response.text]
    elif call.as_other == REGISTERED:
        assert response.status_code == 201, response.text
        created = response.json()["registry"]
        assert created["project_id"] == deployment.beta.project_id
        with deployment.client(deployment.beta) as api:
            api.delete(f"{url}/{created['uuid']}")
    elif call.as_other == NAMED:
        assert response.status_code == 200, response.text
        assert response.json()["project_id"] == deployment.beta.project_id
        with deployment.client(deployment.beta, "1.27") as api:
            api.delete(f"{url}/{response.json()['uuid']}")
    elif call.as_other == VOLUME_MADE:
        assert response.status_code == 201, response.text
        made = response.json()["volume"]
        assert made["project_id"] == deployment.beta.project_id
        with deployment.client(deployment.beta) as api:
            assert api.delete(f"{url}/{made['uuid']}").status_code == 204
    elif call.as_other == CREATED:
        assert response.status_code == 202, response.text
        created = response.json()
        assert created["project_id"] == deployment.beta.project_id
        with deployment.client(deployment.beta) as api:
            api.delete(
                f"{url}/{created['uuid']}",
                params={"force": "true"} if "containers" in url else None,
            )
    else:
        status = int(call.as_other)
        assert_zun_error(response, status)


def _assert_victims_intact(deployment: Deployment, victims: Victims) -> None:
    with deployment.client(deployment.alpha) as api:
        container = api.get(f"/v1/containers/{victims.container['uuid']}")
        assert container.status_code == 200, container.text
        assert container.json()["name"] == victims.container["name"]
        assert container.json()["status"] != "Deleting"
        assert api.get(f"/v1/capsules/{victims.capsule}").status_code == 200
        registry = api.get(f"/v1/registries/{victims.registry}")
        assert registry.status_code == 200, registry.text
        assert registry.json()["registry"]["name"] == "victim.example"
        assert api.get(f"/v1/networks/{victims.network}").status_code == 200
        assert api.get(f"/v1/volumes/{victims.volume}").status_code == 200
