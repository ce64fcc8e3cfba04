"""Capsules on tenant networks, on the real engine, through python-zunclient.

Zun reads a capsule's networks from the template's top-level `nets` (the entries of a
container create). The capsule's sandbox, which its members share, gets a port on each (on
the project's default network when there are none); the capsule and its members show those
addresses as Zun shows a container's (keyed by network uuid). A member reaches a container
of its project on the same network, and not another project's container on a network with
the same CIDR. Bad `nets` are a Zun 4xx that leaves nothing behind; deleting the capsule
frees its address.

Two projects (alpha, beta) need real tokens: a `dockyard serve --auth tokens` of its own.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import httpx
import pytest
from zunclient import exceptions as zunexc

from tests.auth.deployments import Caller, Deployment, running, start_tokens_deployment
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for, wait_gone, wait_status
from tests.support.zun import assert_zun_error, execute_ok, unique_name
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine

CIDR = "10.64.0.0/24"  # alpha's network and beta's: the same range on two networks
PEER_IP, STRANGER_IP = "10.64.0.60", "10.64.0.50"
LABEL_CAPSULE = "io.dockyard.capsule"


def serve(word: str) -> list[str]:
    """Answers `word` to every TCP connection on 8080 (busybox nc), stopping on SIGTERM."""
    loop = f"while :; do echo {word} | nc -l -p 8080; done"
    return ["sh", "-c", f"trap 'exit 0' TERM; {loop} & wait $!"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, test_image: str) -> Iterator[Deployment]:
    with running(start_tokens_deployment(tmp_path_factory.mktemp("capsule-nets"))) as deployment:
        yield deployment


@contextlib.contextmanager
def neutron_as(deployment: Deployment, caller: Caller) -> Iterator[httpx.Client]:
    url = f"{deployment.server.url}/network/v2.0"
    with httpx.Client(base_url=url, headers={"X-Auth-Token": caller.token}, timeout=30) as c:
        yield c


def make_network(neutron: httpx.Client) -> dict[str, Any]:
    made = neutron.post("/networks", json={"network": {"name": unique_name("capnet")}})
    assert made.status_code == 201, made.text
    network: dict[str, Any] = made.json()["network"]
    body = {"subnet": {"network_id": network["id"], "cidr": CIDR}}
    subnet = neutron.post("/subnets", json=body)
    assert subnet.status_code == 201, subnet.text
    network["subnet"] = subnet.json()["subnet"]
    return network


def run_on(api: httpx.Client, network: str, ip: str, command: list[str]) -> dict[str, Any]:
    body = {"name": unique_name("cn"), "image": TEST_IMAGE, "command": command,
            "nets": [{"network": network, "v4-fixed-ip": ip}]}  # fmt: skip
    made = api.post("/v1/containers?run=true", json=body)
    assert made.status_code == 202, made.text
    return wait_status(api, made.json()["uuid"], "Running")


def template(name: str, nets: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "capsule",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "probe", "image": TEST_IMAGE,
                                 "command": SLEEP_FOREVER}]},
    }  # fmt: skip
    if nets is not None:
        body["nets"] = nets
    return body


@pytest.fixture(scope="module")
def alpha_net(deployment: Deployment) -> dict[str, Any]:
    with neutron_as(deployment, deployment.alpha) as neutron:
        return make_network(neutron)


@pytest.fixture(scope="module")
def peers(deployment: Deployment, alpha_net: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """alpha's web server on alpha's network, beta's on beta's network of the same CIDR."""
    with neutron_as(deployment, deployment.beta) as neutron:
        beta_net = make_network(neutron)
    with deployment.client(deployment.alpha) as alpha, deployment.client(deployment.beta) as beta:
        peer = run_on(alpha, alpha_net["id"], PEER_IP, serve("alpha-peer"))
        stranger = run_on(beta, beta_net["id"], STRANGER_IP, serve("beta-stranger"))
        yield {"peer": peer, "stranger": stranger, "beta_net": beta_net}
        for api, made in ((alpha, peer), (beta, stranger)):
            gone = api.delete(f"/v1/containers/{made['uuid']}", params={"stop": "true"})
            assert gone.status_code == 204, gone.text  # (force is an administrator's)
            wait_gone(api, made["uuid"])


@pytest.fixture
def capsules(deployment: Deployment, engine: docker.DockerClient) -> Iterator[list[str]]:
    """Uuids of the capsules a test made: deleted afterwards, with what the engine holds."""
    made: list[str] = []
    yield made
    with deployment.client(deployment.alpha) as api:
        for uuid in made:
            api.delete(f"/v1/capsules/{uuid}")
        for uuid in made:
            with contextlib.suppress(pytest.fail.Exception):  # what is left goes below
                wait_for(functools.partial(_gone, api, uuid), 30, what="capsule deleted")
    for uuid in made:
        label: dict[str, Any] = {"label": f"{LABEL_CAPSULE}={uuid}"}
        for container in engine.containers.list(all=True, filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)


def _gone(api: httpx.Client, uuid: str) -> bool:
    return api.get(f"/v1/capsules/{uuid}").status_code == 404


def wait_running(api: httpx.Client, uuid: str) -> dict[str, Any]:
    def running() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/capsules/{uuid}").json()
        return body if body.get("status") == "Running" else None

    found: dict[str, Any] = wait_for(running, 60, what=f"capsule {uuid} Running")
    return found


def fetch(api: httpx.Client, container: str, ip: str) -> tuple[int, str]:
    """(exit code, output) of a TCP connection to ip:8080 from inside the container."""
    command = f"sh -c 'echo | nc -w 3 {ip} 8080'"
    done = api.post(f"/v1/containers/{container}/execute", params={"command": command, "run": True})
    assert done.status_code == 200, done.text
    return int(done.json()["exit_code"]), str(done.json()["output"]).strip()


def test_capsule_on_a_network_reaches_its_project_peer_and_not_another_projects(
    deployment: Deployment, alpha_net: dict[str, Any], peers: dict[str, Any],
    capsules: list[str],
) -> None:  # fmt: skip
    zun = make_client(deployment.server.url, token=deployment.alpha.token)
    body = template(unique_name("cap-net"), nets=[{"network": alpha_net["name"]}])
    made = zun.capsules.create(template=body)  # what `openstack capsule create --file` sends
    capsules.append(made.uuid)
    with deployment.client(deployment.alpha) as api:
        running = wait_running(api, made.uuid)
        [(net_id, [entry])] = running["addresses"].items()
        assert net_id == alpha_net["id"]
        assert (entry["version"], entry["subnet_id"]) == (4, alpha_net["subnet"]["id"])
        assert entry["addr"].startswith("10.64.0.")
        [probe] = running["containers"]
        assert probe["addresses"] == running["addresses"]  # members share the sandbox's
        assert execute_ok(api, probe["uuid"], "hostname -i") == entry["addr"]
        with neutron_as(deployment, deployment.alpha) as neutron:
            [port] = neutron.get("/ports", params={"device_id": made.uuid}).json()["ports"]
        assert port["id"] == entry["port"]
        assert fetch(api, probe["uuid"], PEER_IP) == (0, "alpha-peer")
        code, output = fetch(api, probe["uuid"], STRANGER_IP)  # beta's, same CIDR: unseen
        assert code != 0
        assert "beta-stranger" not in output
        # the capsule's address is taken: a container asking for it is refused
        nets = [{"network": alpha_net["id"], "v4-fixed-ip": entry["addr"]}]
        taken = {"image": TEST_IMAGE, "nets": nets}
        assert_zun_error(api.post("/v1/containers", json=taken), 409)
        # deleting the capsule frees its address
        assert api.delete(f"/v1/capsules/{made.uuid}").status_code == 204
        wait_for(functools.partial(_gone, api, made.uuid), 60, what="capsule deleted")
        with neutron_as(deployment, deployment.alpha) as neutron:
            assert neutron.get("/ports", params={"device_id": made.uuid}).json()["ports"] == []


def test_capsule_without_nets_is_on_the_projects_default_network(
    deployment: Deployment, capsules: list[str]
) -> None:
    with deployment.client(deployment.alpha) as api:
        made = api.post("/v1/capsules", json={"template": template(unique_name("cap-def"))})
        assert made.status_code == 202, made.text
        capsules.append(made.json()["uuid"])
        running = wait_running(api, made.json()["uuid"])
        [(net_id, [entry])] = running["addresses"].items()
        with neutron_as(deployment, deployment.alpha) as neutron:
            network = neutron.get(f"/networks/{net_id}").json()["network"]
        assert (network["name"], network["project_id"]) == ("default", "alpha")
        assert entry["addr"].startswith("10.224.")
        [probe] = running["containers"]
        assert execute_ok(api, probe["uuid"], "hostname -i") == entry["addr"]


def test_bad_capsule_nets_are_zun_errors_that_leave_nothing(
    deployment: Deployment, alpha_net: dict[str, Any], peers: dict[str, Any]
) -> None:
    net = alpha_net["id"]
    bad: list[tuple[list[Any], int]] = [
        ([{"network": "no-such-network"}], 404),
        ([{"network": peers["beta_net"]["id"]}], 404),  # another project's: as if absent
        ([{"network": net, "port": "x"}], 400),
        ([{"network": net, "v4-fixed-ip": "10.65.0.3"}], 400),  # outside the subnet
        ([{"network": net, "v4-fixed-ip": PEER_IP}], 409),  # the peer holds it
        ([{"network": net}, {"network": net}], 400),  # one port per network
        (["blue"], 400),
    ]
    zun = make_client(deployment.server.url, token=deployment.alpha.token)
    with deployment.client(deployment.alpha) as api:
        before = api.get("/v1/capsules").json()["capsules"]
        ports_before = len(_ports(deployment))
        for nets, status in bad:
            body = {"template": template(unique_name("cap-bad"), nets=nets)}
            assert_zun_error(api.post("/v1/capsules", json=body), status)
        unknown = template(unique_name("cap-bad"), nets=[{"network": "no-such-network"}])
        with pytest.raises(zunexc.NotFound):  # the client says it as the API does
            zun.capsules.create(template=unknown)
        assert api.get("/v1/capsules").json()["capsules"] == before
    assert len(_ports(deployment)) == ports_before


def _ports(deployment: Deployment) -> list[dict[str, Any]]:
    with neutron_as(deployment, deployment.alpha) as neutron:
        found: list[dict[str, Any]] = neutron.get("/ports").json()["ports"]
    return found
