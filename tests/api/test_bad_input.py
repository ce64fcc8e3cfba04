"""Bad input gets a clear 4xx in Zun's error format, never a 500 and never a half-made container."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for, wait_gone, wait_status
from tests.support.zun import assert_zun_error, container_uuids, unique_name

SCHEMA = "container.schema-validation-error"
INVALID = "container.invalid-value"
IN_VERSION = "container.invalid-param-in-version"
NOT_FOUND = "container.container-not-found"
WRONG_STATE = "container.invalid-state-exception"


def version(value: str) -> dict[str, str]:
    return {"OpenStack-API-Version": f"container {value}"}


@pytest.fixture(scope="module")
def client(server: DockyardProcess) -> Iterator[httpx.Client]:
    with server.client() as api:
        yield api


def _run(client: httpx.Client, name: str, command: list[str], status: str) -> dict[str, Any]:
    body = {"name": name, "image": TEST_IMAGE, "command": command}
    response = client.post("/v1/containers?run=true", json=body)
    assert response.status_code == 202, response.text
    return wait_status(client, response.json()["uuid"], status)


@pytest.fixture(scope="module")
def running(client: httpx.Client) -> Iterator[dict[str, Any]]:
    """A Running container that logged one line and exits at once on SIGTERM."""
    command = ["sh", "-c", f"echo ready; {SLEEP_FOREVER[-1]}"]
    container = _run(client, unique_name("bad-running"), command, "Running")
    yield container
    client.delete(f"/v1/containers/{container['uuid']}?force=True")
    wait_gone(client, container["uuid"])


@pytest.fixture(scope="module")
def stopped(client: httpx.Client) -> Iterator[dict[str, Any]]:
    """A container whose command ran and exited: Stopped."""
    container = _run(client, unique_name("bad-stopped"), ["true"], "Stopped")
    yield container
    client.delete(f"/v1/containers/{container['uuid']}")
    wait_gone(client, container["uuid"])


def assert_still(client: httpx.Client, container: dict[str, Any], status: str) -> None:
    now = client.get(f"/v1/containers/{container['uuid']}").json()
    assert now["status"] == status
    assert now["task_state"] is None  # an accepted action would have set one at once
    assert (now["name"], now["cpu"], now["memory"]) == (
        container["name"], container["cpu"], container["memory"],
    )  # fmt: skip


# --- the request body of POST /v1/containers -------------------------------------------------

JSON = {"Content-Type": "application/json"}
VALID = f'{{"image": "{TEST_IMAGE}"}}'.encode()


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        pytest.param(b'{"image": ', JSON, 400, id="malformed-json"),
        pytest.param(b"\xff\xfe{}", JSON, 400, id="not-utf8"),
        pytest.param(b"[]", JSON, 400, id="array"),
        pytest.param(b'"image"', JSON, 400, id="string"),
        pytest.param(b"42", JSON, 400, id="number"),
        pytest.param(b"null", JSON, 400, id="null"),
        pytest.param(b"", JSON, 400, id="empty"),
        pytest.param(VALID, {"Content-Type": "text/plain"}, 415, id="text-plain"),
        pytest.param(VALID, {"Content-Type": "application/x-www-form-urlencoded"}, 415, id="form"),
        pytest.param(VALID, {"Content-Type": ""}, 415, id="no-content-type"),
    ],
)
def test_create_with_unusable_body_is_rejected(
    client: httpx.Client, content: bytes, headers: dict[str, str], status: int
) -> None:
    before = container_uuids(client)
    response = client.post("/v1/containers", content=content, headers=headers)
    code = "container.unsupported-media-type" if status == 415 else INVALID
    assert_zun_error(response, status, code)
    assert container_uuids(client) <= before


CREATE_CASES: list[tuple[str, dict[str, Any] | None, str, int, str]] = [
    # (id, fields besides image (None: no image at all), microversion, status, code)
    ("unknown-field", {"bogus": 1}, "1.40", 400, SCHEMA),
    ("no-image", None, "1.40", 400, SCHEMA),
    ("image-not-string", {"image": 5}, "1.40", 400, SCHEMA),
    ("image-too-short", {"image": "x"}, "1.40", 400, SCHEMA),
    ("image-upper-case", {"image": "IMAGE"}, "1.40", 400, SCHEMA),
    ("image-space", {"image": "busy box"}, "1.40", 400, SCHEMA),
    ("image-empty-tag", {"image": "busybox:"}, "1.40", 400, SCHEMA),
    ("image-bad-digest", {"image": "busybox@sha256:xyz"}, "1.40", 400, SCHEMA),
    ("image-double-slash", {"image": "library//busybox"}, "1.40", 400, SCHEMA),
    ("image-name-too-long", {"image": "a" * 256}, "1.40", 400, SCHEMA),
    ("cpu-not-numeric", {"cpu": "abc"}, "1.40", 400, SCHEMA),
    ("cpu-boolean", {"cpu": True}, "1.40", 400, SCHEMA),
    ("cpu-list", {"cpu": []}, "1.40", 400, SCHEMA),
    ("cpu-zero", {"cpu": 0}, "1.40", 400, SCHEMA),
    ("cpu-negative", {"cpu": -1}, "1.40", 400, SCHEMA),
    ("cpu-below-minimum", {"cpu": 0.01}, "1.40", 400, INVALID),
    ("cpu-above-maximum", {"cpu": 100}, "1.40", 400, INVALID),
    ("cpu-above-maximum-string", {"cpu": "16.5"}, "1.40", 400, INVALID),
    ("memory-list", {"memory": []}, "1.40", 400, SCHEMA),
    ("memory-boolean", {"memory": True}, "1.40", 400, SCHEMA),
    ("memory-fraction", {"memory": 1.5}, "1.40", 400, SCHEMA),
    ("memory-words", {"memory": "lots"}, "1.40", 400, SCHEMA),
    ("memory-below-minimum", {"memory": 1}, "1.40", 400, INVALID),
    ("memory-negative", {"memory": -5}, "1.40", 400, INVALID),
    ("memory-above-maximum", {"memory": 99999}, "1.40", 400, INVALID),
    ("memory-huge-string", {"memory": "9" * 40}, "1.40", 400, INVALID),
    ("environment-int-value", {"environment": {"A": 1}}, "1.40", 400, SCHEMA),
    ("environment-null-value", {"environment": {"A": None}}, "1.40", 400, SCHEMA),
    ("environment-list", {"environment": ["A=1"]}, "1.40", 400, SCHEMA),
    ("labels-int-value", {"labels": {"a": 1}}, "1.40", 400, SCHEMA),
    ("name-too-short", {"name": "a"}, "1.40", 400, SCHEMA),
    ("name-too-long", {"name": "a" * 256}, "1.40", 400, SCHEMA),
    ("name-bad-characters", {"name": "bad name!"}, "1.40", 400, SCHEMA),
    ("name-leading-dash", {"name": "-xy"}, "1.40", 400, SCHEMA),
    ("name-not-string", {"name": 12}, "1.40", 400, SCHEMA),
    ("command-string-at-1.40", {"command": "sleep 1"}, "1.40", 400, INVALID),
    ("command-array-at-1.19", {"command": ["sleep", "1"]}, "1.19", 400, INVALID),
    ("command-unbalanced-quote-at-1.19", {"command": "sh -c 'x"}, "1.19", 400, SCHEMA),
    ("command-not-strings", {"command": [1]}, "1.40", 400, SCHEMA),
    ("entrypoint-empty-array", {"entrypoint": []}, "1.40", 400, SCHEMA),
    ("entrypoint-at-1.39", {"entrypoint": ["sh"]}, "1.39", 400, IN_VERSION),
    ("tty-at-1.35", {"tty": True}, "1.35", 400, IN_VERSION),
    ("privileged-at-1.20", {"privileged": False}, "1.20", 400, IN_VERSION),
    ("auto-remove-at-1.2", {"auto_remove": True}, "1.2", 400, IN_VERSION),
    ("privileged", {"privileged": True}, "1.40", 403, "container.policy-not-authorized"),
    ("restart-policy-unknown", {"restart_policy": {"Name": "sometimes"}}, "1.40", 400, SCHEMA),
    ("restart-policy-no-name", {"restart_policy": {"MaximumRetryCount": 1}}, "1.40", 400, SCHEMA),
    (
        "restart-policy-always-with-retries",
        {"restart_policy": {"Name": "always", "MaximumRetryCount": 3}},
        "1.40",
        400,
        INVALID,
    ),
    ("interactive-not-boolean", {"interactive": "maybe"}, "1.40", 400, SCHEMA),
    ("hostname-bad-characters", {"hostname": "a b"}, "1.40", 400, SCHEMA),
    ("exposed-port-out-of-range", {"exposed_ports": {"99999/tcp": {}}}, "1.40", 400, SCHEMA),
    (
        "healthcheck-interval-words",
        {"healthcheck": {"cmd": "true", "interval": "y"}},
        "1.40",
        400,
        SCHEMA,
    ),
    (
        "nets-network-and-port",
        {"nets": [{"network": "private", "port": "p"}]},
        "1.40",
        400,
        INVALID,
    ),
    (
        "nets-unknown-network",
        {"nets": [{"network": "private"}]},
        "1.40",
        404,
        "container.network-not-found",
    ),
]


@pytest.mark.parametrize(
    ("fields", "microversion", "status", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in CREATE_CASES],
)
def test_create_with_invalid_field_is_rejected_and_leaves_nothing(
    client: httpx.Client, fields: dict[str, Any] | None, microversion: str, status: int, code: str
) -> None:
    name = unique_name("bad-create")
    body = {"name": name, "image": TEST_IMAGE, **(fields or {})}
    if fields is None:
        del body["image"]
    before = container_uuids(client)
    response = client.post("/v1/containers?run=true", json=body, headers=version(microversion))
    assert_zun_error(response, status, code)
    assert container_uuids(client) <= before
    assert client.get(f"/v1/containers/{name}").status_code == 404


def test_create_with_non_boolean_run_is_rejected(client: httpx.Client) -> None:
    before = container_uuids(client)
    response = client.post("/v1/containers?run=maybe", json={"image": TEST_IMAGE})
    assert_zun_error(response, 400, INVALID)
    assert container_uuids(client) <= before


def test_create_with_a_taken_name_is_conflict(
    client: httpx.Client, running: dict[str, Any]
) -> None:
    before = container_uuids(client)
    response = client.post("/v1/containers", json={"name": running["name"], "image": TEST_IMAGE})
    error = assert_zun_error(response, 409, "container.container-already-exists")
    assert running["name"] in error["detail"]
    assert container_uuids(client) <= before


# --- PATCH /v1/containers/{id} ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        pytest.param(b"{}", JSON, 400, INVALID, id="nothing-to-update"),
        pytest.param(b'{"image": "other"}', JSON, 400, SCHEMA, id="not-updatable"),
        pytest.param(b'{"cpu": "abc"}', JSON, 400, SCHEMA, id="cpu-not-numeric"),
        pytest.param(b'{"cpu": true}', JSON, 400, SCHEMA, id="cpu-boolean"),
        pytest.param(b'{"cpu": 100}', JSON, 400, INVALID, id="cpu-above-maximum"),
        pytest.param(b'{"memory": []}', JSON, 400, SCHEMA, id="memory-list"),
        pytest.param(b'{"memory": 1}', JSON, 400, INVALID, id="memory-below-minimum"),
        pytest.param(b'{"name": "a"}', JSON, 400, SCHEMA, id="name-too-short"),
        pytest.param(b'{"name": "no spaces"}', JSON, 400, SCHEMA, id="name-bad-characters"),
        pytest.param(b'{"name": ', JSON, 400, INVALID, id="malformed-json"),
        pytest.param(b"[]", JSON, 400, INVALID, id="array"),
        pytest.param(b"", JSON, 400, INVALID, id="empty"),
        pytest.param(
            b'{"name": "xyz"}',
            {"Content-Type": "text/plain"},
            415,
            "container.unsupported-media-type",
            id="text-plain",
        ),
    ],
)
def test_update_with_bad_body_is_rejected_and_changes_nothing(
    client: httpx.Client,
    running: dict[str, Any],
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    response = client.patch(f"/v1/containers/{running['uuid']}", content=content, headers=headers)
    assert_zun_error(response, status, code)
    assert_still(client, running, "Running")


def test_update_to_a_taken_name_is_conflict(
    client: httpx.Client, running: dict[str, Any], stopped: dict[str, Any]
) -> None:
    response = client.patch(f"/v1/containers/{running['uuid']}", json={"name": stopped["name"]})
    assert_zun_error(response, 409, "container.container-already-exists")
    assert_still(client, running, "Running")


def test_rename_to_a_bad_name_is_rejected(client: httpx.Client, running: dict[str, Any]) -> None:
    response = client.post(
        f"/v1/containers/{running['uuid']}/rename", params={"name": "a"}, headers=version("1.13")
    )
    assert_zun_error(response, 400, SCHEMA)
    assert_still(client, running, "Running")


# --- unknown containers ----------------------------------------------------------------------


@pytest.mark.parametrize("ident", ["no-such-container", "00000000-0000-0000-0000-000000000000"])
@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/start"),
        ("POST", "/stop"),
        ("POST", "/reboot"),
        ("POST", "/pause"),
        ("POST", "/unpause"),
        ("POST", "/kill"),
        ("POST", "/execute?command=ls"),
        ("GET", "/logs"),
        ("GET", "/top"),
        ("GET", "/stats"),
    ],
)
def test_unknown_container_is_not_found(
    client: httpx.Client, ident: str, method: str, suffix: str
) -> None:
    body = {"name": "new-name"} if method == "PATCH" else None
    response = client.request(method, f"/v1/containers/{ident}{suffix}", json=body)
    error = assert_zun_error(response, 404, NOT_FOUND)
    assert error["title"] == f"Container {ident} could not be found."


# --- actions in the wrong state --------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "verb"),
    [
        ("POST", "/stop", "stop"),
        ("POST", "/pause", "pause"),
        ("POST", "/unpause", "unpause"),
        ("POST", "/kill", "kill"),
        ("POST", "/execute?command=ls", "execute"),
        ("GET", "/top", "top"),
    ],
)
def test_action_on_stopped_container_is_conflict(
    client: httpx.Client, stopped: dict[str, Any], method: str, suffix: str, verb: str
) -> None:
    response = client.request(method, f"/v1/containers/{stopped['uuid']}{suffix}")
    error = assert_zun_error(response, 409, WRONG_STATE)
    assert error["title"] == f"Cannot {verb} container {stopped['uuid']} in Stopped state."
    assert_still(client, stopped, "Stopped")


def test_stop_of_stopped_container_is_conflict(
    client: httpx.Client, stopped: dict[str, Any]
) -> None:
    response = client.post(f"/v1/containers/{stopped['name']}/stop")
    assert_zun_error(response, 409, WRONG_STATE)
    assert_still(client, stopped, "Stopped")


@pytest.mark.parametrize(("suffix", "verb"), [("/unpause", "unpause"), ("/start", "start")])
def test_action_on_running_container_is_conflict(
    client: httpx.Client, running: dict[str, Any], suffix: str, verb: str
) -> None:
    response = client.post(f"/v1/containers/{running['uuid']}{suffix}")
    error = assert_zun_error(response, 409, WRONG_STATE)
    assert error["title"] == f"Cannot {verb} container {running['uuid']} in Running state."
    assert_still(client, running, "Running")


def test_delete_of_running_container_without_stop_or_force_is_conflict(
    client: httpx.Client, running: dict[str, Any]
) -> None:
    response = client.delete(f"/v1/containers/{running['uuid']}")
    error = assert_zun_error(response, 409, WRONG_STATE)
    assert error["title"] == (
        f"Cannot delete container {running['uuid']} in Running state."
        " Stop it first, or delete it with --stop (or --force)."
    )
    assert_still(client, running, "Running")


# --- bad parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "params"),
    [
        ("POST", "/stop", {"timeout": "abc"}),
        ("POST", "/stop", {"timeout": "-1"}),
        ("POST", "/stop", {"timeout": "1.5"}),
        ("POST", "/stop", {"timeout": "9" * 30}),
        ("POST", "/reboot", {"timeout": "soon"}),
        ("POST", "/kill", {"signal": "SIGNOPE"}),
        ("POST", "/kill", {"signal": "999"}),
        ("POST", "/kill", {"signal": ""}),
        ("GET", "/logs", {"tail": "abc"}),
        ("GET", "/logs", {"tail": "-5"}),
        ("GET", "/logs", {"since": "yesterday"}),
        ("GET", "/logs", {"since": "1e300"}),
        ("GET", "/logs", {"since": "-5"}),
        ("GET", "/logs", {"since": "nan"}),
        ("GET", "/logs", {"stdout": "maybe"}),
        ("GET", "/logs", {"follow": "maybe"}),
        ("POST", "/execute", {}),
        ("POST", "/execute", {"command": ""}),
        ("POST", "/execute", {"command": "   "}),
        ("POST", "/execute", {"command": "sh -c 'unbalanced"}),
        ("POST", "/execute", {"command": "ls", "run": "maybe"}),
        ("DELETE", "", {"force": "maybe"}),
        ("DELETE", "", {"stop": "maybe"}),
        ("DELETE", "", {"cascade": "true"}),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v[:12]}" for k, v in value.items())
        if isinstance(value, dict)
        else str(value).strip("/") or None
    ),
)
def test_action_with_bad_parameter_is_rejected_and_does_nothing(
    client: httpx.Client, running: dict[str, Any], method: str, suffix: str, params: dict[str, str]
) -> None:
    response = client.request(method, f"/v1/containers/{running['uuid']}{suffix}", params=params)
    assert_zun_error(response, 400, INVALID)
    assert_still(client, running, "Running")


@pytest.mark.parametrize(
    ("params", "logged"),
    [
        ({}, "ready\n"),
        ({"since": "0"}, "ready\n"),  # the epoch: everything
        ({"since": "2000-01-01 00:00:00,000"}, "ready\n"),
        ({"since": "4102444800"}, ""),  # 2100-01-01
        ({"tail": "all"}, "ready\n"),
        ({"tail": "0"}, ""),
        ({"stdout": "False", "stderr": "True"}, ""),
    ],
)
def test_logs_accept_every_zun_form_of_since_and_tail(
    client: httpx.Client, running: dict[str, Any], params: dict[str, str], logged: str
) -> None:
    wait_for(lambda: "ready" in client.get(f"/v1/containers/{running['uuid']}/logs").text)
    response = client.get(f"/v1/containers/{running['uuid']}/logs", params=params)
    assert response.status_code == 200, response.text
    assert response.json() == logged


def test_bad_parameter_in_a_json_body_is_rejected_like_a_query_parameter(
    client: httpx.Client, running: dict[str, Any]
) -> None:
    # Zun merges a JSON body's top-level keys into the parameters of an action
    response = client.post(f"/v1/containers/{running['uuid']}/stop", json={"timeout": []})
    assert_zun_error(response, 400, INVALID)
    response = client.post(f"/v1/containers/{running['uuid']}/kill", json={"signal": 9.5})
    assert_zun_error(response, 400, INVALID)
    assert_still(client, running, "Running")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, INVALID),
        ({"limit": "-1"}, INVALID),
        ({"limit": "abc"}, INVALID),
        ({"limit": "1.5"}, INVALID),
        ({"sort_dir": "up"}, INVALID),
        ({"sort_key": "no_such_column"}, "container.invalid"),
        ({"marker": "no-such-marker"}, "container.invalid"),
        ({"marker": "00000000-0000-0000-0000-000000000000"}, "container.invalid"),
        ({"all_projects": "maybe"}, INVALID),
        ({"memory": "abc"}, INVALID),
        ({"memory": "9" * 30}, INVALID),
        ({"auto_remove": "perhaps"}, INVALID),
        ({"no_such_param": "1"}, INVALID),
    ],
    ids=lambda value: (
        "-".join(f"{k}={v[:12]}" for k, v in value.items()) if isinstance(value, dict) else None
    ),
)
def test_list_with_bad_parameter_is_rejected(
    client: httpx.Client, params: dict[str, str], code: str
) -> None:
    response = client.get("/v1/containers", params=params)
    assert_zun_error(response, 400, code)


def test_unknown_list_parameter_is_named_in_the_error(client: httpx.Client) -> None:
    response = client.get("/v1/containers", params={"colour": "blue"})
    error = assert_zun_error(response, 400, INVALID)
    assert error["detail"] == "Unknown parameters: colour"


def test_huge_limit_is_capped_not_rejected(client: httpx.Client) -> None:
    response = client.get("/v1/containers", params={"limit": "9" * 30})
    assert response.status_code == 200
    assert set(response.json()) == {"containers", "next"}


# --- messages in Dockyard's own words --------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"memory": "lots"}, "memory: Invalid memory 'lots': use MiB, e.g. 512, '512M' or '1G'."),
        (
            {"image": "IMAGE"},
            "image: Invalid image reference 'IMAGE': use [HOST[:PORT]/]NAME[:TAG][@DIGEST], "
            "NAME in lower case (e.g. busybox:1.36).",
        ),
        (
            {"exposed_ports": {"99999/tcp": {}}},
            "exposed_ports: Invalid exposed port '99999/tcp': use '<1-65535>[/tcp|/udp]'.",
        ),
    ],
    ids=["memory", "image", "exposed-port"],
)
def test_validation_errors_say_what_is_wrong_without_library_prefixes(
    client: httpx.Client, fields: dict[str, Any], detail: str
) -> None:
    response = client.post("/v1/containers", json={"image": TEST_IMAGE, **fields})
    error = assert_zun_error(response, 400, SCHEMA)
    assert error["detail"] == detail


def test_update_validation_error_has_no_library_prefix(
    client: httpx.Client, running: dict[str, Any]
) -> None:
    response = client.patch(f"/v1/containers/{running['uuid']}", json={"memory": "lots"})
    error = assert_zun_error(response, 400, SCHEMA)
    assert error["detail"] == "memory: Invalid memory 'lots': use MiB, e.g. 512, '512M' or '1G'."
