"""The auth middleware alone, in front of a tiny app that echoes what it was given."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from dockyard.api.auth.middleware import AuthMiddleware, is_exempt
from dockyard.api.compat import ZunCompatMiddleware
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import IdentityUnavailable, Unauthenticated
from dockyard.services import policy
from tests.support.zun import assert_zun_error

GOOD = "good-token"


class OneToken:
    """An authenticator that knows one token; "down" plays an identity service that is down."""

    www_authenticate = 'Keystone uri="http://keystone.example"'

    async def authenticate(self, token: str | None) -> RequestContext:
        if token == "down":
            raise IdentityUnavailable()
        if token != GOOD:
            raise Unauthenticated("The token is not valid.")
        return RequestContext(project_id="alpha", user_id="alice", roles=frozenset({"member"}))

    async def close(self) -> None:
        return None


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    context = scope["state"].get("context")
    body = {
        "project_id": getattr(context, "project_id", None),
        "request_id": getattr(context, "request_id", None),
        "identity_headers": sorted(
            k for k in request.headers if k.startswith("x-") and k != "x-auth-token"
        ),
        "pause_allowed": policy.is_allowed(context, "container:pause") if context else None,
    }
    await JSONResponse(body)(scope, receive, send)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    rules = policy.Policy({"container:pause": "!"})
    app = ZunCompatMiddleware(AuthMiddleware(echo, authenticator=OneToken(), rules=rules))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dockyard") as http:
        yield http


async def test_a_good_token_sets_the_context_and_the_policy_in_force(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/v1/containers", headers={"X-Auth-Token": GOOD})
    body = response.json()
    assert body["project_id"] == "alpha"
    assert body["request_id"] == response.headers["x-openstack-request-id"]
    assert body["pause_allowed"] is False  # the file's rule, not the default


async def test_identity_headers_never_reach_the_app(client: httpx.AsyncClient) -> None:
    forged = {"X-Auth-Token": GOOD, "X-Project-Id": "beta", "X-Roles": "admin", "X-Foo": "kept"}
    body = (await client.get("/v1/containers", headers=forged)).json()
    assert body["identity_headers"] == ["x-foo"]
    assert body["project_id"] == "alpha"


@pytest.mark.parametrize("token", [None, "", "bad"])
async def test_a_missing_or_bad_token_is_401_in_zun_format(
    client: httpx.AsyncClient, token: str | None
) -> None:
    headers = {"X-Auth-Token": token} if token is not None else {}
    response = await client.post("/v1/containers", headers=headers, json={"image": "x"})
    error = assert_zun_error(response, 401, "container.unauthenticated")
    assert response.headers["WWW-Authenticate"] == 'Keystone uri="http://keystone.example"'
    assert token is None or token == "" or token not in error["detail"]


async def test_an_identity_service_that_is_down_is_503(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/containers", headers={"X-Auth-Token": "down"})
    assert response.status_code == 503
    (error,) = response.json()["errors"]
    assert (error["code"], error["title"]) == ("container.", "Service Unavailable")  # Zun's 5xx
    assert error["request_id"] == response.headers["x-openstack-request-id"]


async def test_public_and_agent_paths_need_no_token(client: httpx.AsyncClient) -> None:
    for path in ("/", "/v1", "/v1/", "/agent/v1/hosts/x/heartbeat"):
        method = "POST" if path.startswith("/agent") else "GET"
        response = await client.request(method, path)
        assert response.status_code == 200, path
        assert response.json()["project_id"] is None


def test_only_reads_of_the_version_documents_are_public() -> None:
    assert is_exempt("GET", "/v1")
    assert is_exempt("HEAD", "/")
    assert not is_exempt("POST", "/v1")
    assert not is_exempt("GET", "/v1/containers")
    assert not is_exempt("GET", "/agent/v1x")
