"""A capsule's ports reach the host its sandbox is placed on: the host carries the capsule's
networks (with the capsule's name record), the sandbox's assignment lists the ports to plug,
and the network is in use while they exist."""

from __future__ import annotations

import pytest

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import NetworkInUse
from dockyard.schemas.capsules import CapsuleSpec, MemberSpec
from dockyard.schemas.networks import NetworkCreate, SubnetCreate
from dockyard.services.capsules import CapsuleService
from dockyard.services.networks import NetworkService
from dockyard.services.policy import Policy
from tests.services.conftest import Stack, registration

CTX = RequestContext(project_id="p-cap", user_id="u", roles=frozenset({"member"}), policy=Policy())


def capsule(name: str, nets: list[dict[str, str]]) -> CapsuleSpec:
    probe = MemberSpec(name="probe", image="img", command=["true"], environment={}, workdir=None,
                       image_pull_policy=None, cpu=0.1, memory=16, ports=[], volume_mounts=[],
                       tty=False, stdin=False)  # fmt: skip
    return CapsuleSpec(name=name, labels={}, annotations={}, restart_policy=("always", 0),
                       volumes=[], init_containers=[], containers=[probe],
                       availability_zone=None, cpu=0.0, memory=0, nets=nets)  # fmt: skip


async def test_the_sandboxs_host_carries_the_capsules_network_and_plugs_its_port(
    stack: Stack,
) -> None:
    host = await stack.hosts.register(registration(cpus=4, mem_total=4096))
    networks = NetworkService(stack.containers.sessions)
    network = await networks.create_network(CTX, NetworkCreate(name="capnet"))
    await networks.create_subnet(CTX, SubnetCreate(network_id=network.uuid, cidr="10.90.0.0/24"))
    capsules = CapsuleService(stack.containers.sessions, stack.settings, stack.containers.directory)
    view = await capsules.create(CTX, capsule("web", [{"network": "capnet"}]))
    assert view.sandbox is not None
    [entry] = (view.sandbox.addresses or {})[network.uuid]
    assert entry["addr"] == "10.90.0.2"
    assert [m.addresses for m in view.containers] == [view.sandbox.addresses]
    await stack.placed(CTX, *view.containers)

    batch = await stack.hosts.assignments(host.uuid, 0, 0, full=True)
    assert batch.networks is not None
    assert [n.uuid for n in batch.networks.networks] == [network.uuid]
    assert [(r.name, r.ip) for r in batch.networks.dns[network.uuid]] == [("web", "10.90.0.2")]
    [sandbox] = batch.sandboxes
    assert [(p.port_id, p.ip, p.prefixlen) for p in sandbox.ports] == [
        (entry["port"], "10.90.0.2", 24)
    ]
    with pytest.raises(NetworkInUse):  # the capsule's port holds it
        await networks.delete_network(CTX, network.uuid)
