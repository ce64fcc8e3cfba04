"""Every ContainerSpec field goes from the API through the database and the agent to the
engine, and back to the view: one case per field, and a field without a case fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import httpx
import pytest

from dockyard.domain.containerspec import ContainerSpec
from dockyard.runtime.hold import unheld_entrypoint
from dockyard.runtime.labels import LABEL_CONTAINER
from tests.auth.deployments import Deployment, start_tokens_deployment
from tests.support.testimage import TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine

Inspect = dict[str, Any]


@dataclass(frozen=True)
class Case:
    """One field: what the create body says, what the engine shows, what the view shows.

    `engine` None: the field is no engine option (`why` says whose business it is).
    """

    body: dict[str, Any]
    view: dict[str, Any]
    engine: Callable[[Inspect], Any] | None
    expected: Any = None
    why: str = ""
    # Asked for in a second container, created but not started: the engine refuses
    # auto-remove with a restart policy, and the test bed's engine cannot start a
    # privileged container (it may not grant every capability).
    apart: bool = False


def _config(key: str) -> Callable[[Inspect], Any]:
    return lambda attrs: attrs["Config"][key]


def _entrypoint(attrs: Inspect) -> Any:
    """The container's own entrypoint: a standalone container on a tenant network is held
    until its ports are plugged (runtime/hold.py), and the hold goes in front of it."""
    engine = attrs["Config"]["Entrypoint"]
    own = unheld_entrypoint(engine)
    return engine if own is None else own


def _host_config(key: str) -> Callable[[Inspect], Any]:
    return lambda attrs: attrs["HostConfig"][key]


def _env(attrs: Inspect) -> Any:
    return [e for e in attrs["Config"]["Env"] if e.startswith("SPEC_")]


def _labels(attrs: Inspect) -> Any:
    return {k: v for k, v in attrs["Config"]["Labels"].items() if k.startswith("spec.")}


def _healthcheck(attrs: Inspect) -> Any:
    check = attrs["Config"]["Healthcheck"]
    return check["Test"], check["Interval"], check["Retries"], check["Timeout"]


SECOND = 1_000_000_000  # ns
SCRIPT = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"

# Every ContainerSpec field (the test below checks that none is missing).
CASES: dict[str, Case] = {
    "image": Case({"image": TEST_IMAGE}, {"image": TEST_IMAGE}, _config("Image"), TEST_IMAGE),
    "command": Case({"command": [SCRIPT]}, {"command": [SCRIPT]}, _config("Cmd"), [SCRIPT]),
    "entrypoint": Case(
        {"entrypoint": ["sh", "-c"]}, {"entrypoint": ["sh", "-c"]},
        _entrypoint, ["sh", "-c"],
    ),
    "environment": Case(
        {"environment": {"SPEC_A": "1"}}, {"environment": {"SPEC_A": "1"}}, _env, ["SPEC_A=1"]
    ),
    "labels": Case(
        {"labels": {"spec.a": "b"}}, {"labels": {"spec.a": "b"}}, _labels, {"spec.a": "b"}
    ),
    "workdir": Case({"workdir": "/tmp"}, {"workdir": "/tmp"}, _config("WorkingDir"), "/tmp"),
    "hostname": Case(
        {"hostname": "spec-host"}, {"hostname": "spec-host"}, _config("Hostname"), "spec-host"
    ),
    "cpu": Case({"cpu": 0.25}, {"cpu": 0.25}, _host_config("CpuQuota"), 25_000),
    "memory": Case({"memory": 96}, {"memory": "96"}, _host_config("Memory"), 96 * 1024 * 1024),
    "disk": Case({}, {"disk": 0}, None, why="quota and placement; no storage driver limits it"),
    "restart_policy": Case(
        {"restart_policy": {"Name": "on-failure", "MaximumRetryCount": 2}},
        {"restart_policy": {"Name": "on-failure", "MaximumRetryCount": "2"}},
        _host_config("RestartPolicy"), {"Name": "on-failure", "MaximumRetryCount": 2},
    ),
    "auto_remove": Case(  # the engine refuses auto-remove with a restart policy
        {"auto_remove": True}, {"auto_remove": True}, _host_config("AutoRemove"), True,
        apart=True,
    ),
    "auto_heal": Case({"auto_heal": True}, {"auto_heal": True}, None, why="control plane"),
    "interactive": Case(
        {"interactive": True}, {"interactive": True}, _config("OpenStdin"), True
    ),
    "tty": Case({"tty": True}, {"tty": True}, _config("Tty"), True),
    "privileged": Case(
        {"privileged": True}, {"privileged": True}, _host_config("Privileged"), True, apart=True
    ),
    "exposed_ports": Case(
        {"exposed_ports": {"8080/tcp": {}}}, {"ports": [8080]},
        lambda attrs: sorted(attrs["Config"]["ExposedPorts"]), ["8080/tcp"],
    ),
    "healthcheck": Case(
        {"healthcheck": {"cmd": "true", "interval": 3, "retries": 2, "timeout": 1}},
        {"healthcheck": {"test": "true", "interval": 3, "retries": 2, "timeout": 1}},
        _healthcheck, (["CMD-SHELL", "true"], 3 * SECOND, 2, SECOND),
    ),
    "image_pull_policy": Case(
        {"image_pull_policy": "IfNotPresent"}, {"image_pull_policy": "ifnotpresent"}, None,
        why="the agent's: whether to pull before the create",
    ),
    "image_driver": Case(
        {"image_driver": "docker"}, {"image_driver": "docker"}, None, why="docker is the only one"
    ),
    "runtime": Case({"runtime": "runc"}, {"runtime": "runc"}, _host_config("Runtime"), "runc"),
    "cpu_policy": Case(
        {"cpu_policy": "shared"}, {"cpu_policy": "shared"}, None, why="shared is the only one"
    ),
    "hints": Case({"hints": {"spec": "x"}}, {}, None, why="the scheduler's"),
    "availability_zone": Case(
        {"availability_zone": "nova"}, {}, None, why="the scheduler's"
    ),
    "requested_host": Case({}, {}, None, why="the scheduler's (`host`, set by the test)"),
    "volume_mounts": Case({}, {}, None, why="capsule volumes: tests/e2e/test_capsules.py"),
    "registry_id": Case(
        {}, {"registry_id": None}, None,
        why="the agent's: whose credentials pull the image (tests/e2e/test_registries.py)",
    ),
    "injected_files": Case(
        {}, {}, None,
        why="files written into the container before its start (tests/e2e/test_volumes.py)",
    ),
    "volume_host": Case(
        {}, {}, None, why="the scheduler's: a named volume's host (tests/services/test_volumes.py)"
    ),
    "security_groups": Case(
        {"security_groups": ["default"]}, {"security_groups": ["default"]}, None,
        why="the data plane's rules (tests/e2e/test_networks*.py, tests/multihost)",
        apart=True,  # Zun refuses security_groups together with exposed_ports
    ),
}  # fmt: skip


def test_every_spec_field_has_a_case() -> None:
    assert set(CASES) == {f.name for f in dataclasses.fields(ContainerSpec)}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[Deployment]:
    # An admin asks: runtime, image_pull_policy and host are admin-only fields, and privileged
    # is nobody's unless the operator's policy says so.
    workdir = tmp_path_factory.mktemp("spec")
    (workdir / "policy.yaml").write_text('"container:create:privileged": "role:admin"\n')
    deployment = start_tokens_deployment(workdir, policy_file=workdir / "policy.yaml")
    yield deployment
    deployment.server.stop()
    deployment.server.remove_engine_objects()


Made = dict[bool, tuple[dict[str, Any], Inspect]]  # apart → (view, engine inspect)


@pytest.fixture(scope="module")
def made(deployment: Deployment) -> Iterator[Made]:
    """Containers asking for every field, once made: their views and the engine's inspect."""
    uuids: list[str] = []
    engine = docker.from_env()
    with deployment.client(deployment.admin) as api:
        try:
            result: Made = {}
            for apart in (False, True):
                uuids.append(_create(api, deployment, apart))
                view = _wait(api, uuids[-1], "Created" if apart else "Running")
                label = f"{LABEL_CONTAINER}={uuids[-1]}"
                (found,) = engine.containers.list(all=True, filters={"label": label})
                result[apart] = view, found.attrs
            yield result
        finally:
            engine.close()
            for uuid in uuids:
                api.delete(f"/v1/containers/{uuid}?force=true")


def _create(api: httpx.Client, deployment: Deployment, apart: bool) -> str:
    body: dict[str, Any] = {
        "name": unique_name("spec"), "host": deployment.server.host_uuid, "image": TEST_IMAGE,
        "entrypoint": ["sh", "-c"], "command": [SCRIPT],
        # Its own namespaces: a sandbox's member leaves hostname and ports to the sandbox.
        "sandbox_mode": "standalone",
    }  # fmt: skip
    for case in CASES.values():
        if case.apart == apart:
            body.update(case.body)
    reply = api.post(f"/v1/containers?run={str(not apart).lower()}", json=body)
    assert reply.status_code == 202, reply.text
    return str(reply.json()["uuid"])


def _wait(api: httpx.Client, uuid: str, status: str) -> dict[str, Any]:
    view: dict[str, Any] = wait_for(lambda: _reached(api, uuid, status), 60, what=status)
    return view


def _reached(api: httpx.Client, uuid: str, status: str) -> dict[str, Any] | None:
    view: dict[str, Any] = api.get(f"/v1/containers/{uuid}").json()
    assert view["status"] not in ("Error", "Dead"), view["status_reason"]
    return view if view["status"] == status else None


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.engine is not None])
def test_field_reaches_the_engine(name: str, made: Made) -> None:
    case = CASES[name]
    assert case.engine is not None
    assert case.engine(made[case.apart][1]) == case.expected


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.view])
def test_field_comes_back_in_the_view(name: str, made: Made) -> None:
    view = made[CASES[name].apart][0]
    expected = CASES[name].view
    assert {key: view.get(key) for key in expected} == expected


def test_fields_without_an_engine_option_say_whose_they_are() -> None:
    assert all(c.why for c in CASES.values() if c.engine is None)


def test_the_containers_ran_on_the_requested_host(deployment: Deployment, made: Made) -> None:
    hosts = {attrs["Config"]["Labels"]["io.dockyard.host"] for _, attrs in made.values()}
    assert hosts == {deployment.server.host_uuid}
