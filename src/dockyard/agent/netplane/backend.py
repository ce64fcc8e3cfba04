"""The interface between the agent and whatever carries tenant networks on its host.

The agent holds one `NetworkBackend` and tells it two things, both decided by the control
plane: which networks this host carries (`apply`, a whole `HostNetworks` each time), and
which ports belong in which network namespace (`connect`/`disconnect`). A backend never
picks an address, a MAC or a VNI.

The default backend (`vxlan.KernelBackend`) builds everything from the Linux kernel, as
Flannel's VXLAN backend does. A Neutron backend for OpenStack sites (kuryr-libnetwork on each
host, as Zun runs it) would be a second class with the same six calls, picked in
`cli/processes._network` by a new `agent.network_backend` value (`kuryr`); with it the control
plane's network API would proxy to Neutron, so that network, subnet and port ids are
Neutron's. Call by call:

- `apply`: for each network of `HostNetworks.networks`, make sure a Docker network exists
  that is named after the Neutron network, of driver and IPAM driver `kuryr`, created with
  `-o neutron.net.uuid=<uuid> --ipam-opt neutron.subnet.uuid=<subnet>` (Zun's
  `kuryr_network.py`); remove those of networks no longer listed (nor `lingering`) once no
  endpoint uses them (Docker refuses before: the next apply tries again). VNIs, peers and
  FDB entries are Neutron's L2 agent's business, and security groups are Neutron's own, so
  `tunnel_ip`, `peers` and `security_groups` are ignored.
- `connect(pid, ports)`: Docker connects containers, not processes, so the backend finds the
  engine container whose `State.Pid` is `pid` (a sandbox's infra container, or a standalone
  container) and calls `POST /networks/<net>/connect` with `IPAMConfig.IPv4Address` = the
  binding's address; kuryr binds the Neutron port (`PortBinding.port_id`) to the host and
  plugs it. One agent change comes with it: Docker refuses to connect a container made
  with network mode `none`, so on this backend the agent would create sandboxes and
  standalone containers on their first kuryr network (Docker then plugs it before their
  process starts, and the command hold of `runtime/hold.py` is moot) and connect the rest.
  `disconnect` calls `POST /networks/<net>/disconnect` for the container that holds the port.
- `configure_resolver`: nothing; Docker's embedded resolver answers on kuryr networks, for
  containers of its own host only, so names across hosts need Neutron's DNS integration
  (`dns_name` on ports).
- `teardown` removes the kuryr networks it made; `close` has nothing to stop.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dockyard.schemas.netplane import HostNetworks, PortBinding


class NetworkBackend(Protocol):
    """Makes the host carry the networks and ports the control plane says it carries."""

    def apply(
        self,
        networks: HostNetworks,
        *,
        rules_follow: bool = False,
        expected: Sequence[PortBinding] = (),
    ) -> None:
        """Make the host carry exactly these networks (idempotent; drops the rest).

        `rules_follow`: a `connect` comes next and loads the filtering rules with its own,
        so a change of rules alone may wait for it (one load instead of two). `expected`:
        ports to be connected soon; their rules may be loaded now, so that the connect on a
        container's way to running need not."""

    def connect(self, pid: int, ports: list[PortBinding]) -> None:
        """Plug these ports into the network namespace of process `pid` (idempotent)."""

    def disconnect(self, port_ids: list[str]) -> None:
        """Unplug these ports wherever they are; unknown ones are ignored."""

    def configure_resolver(self, pid: int, network_ids: list[str]) -> None:
        """Point the resolver of process `pid`'s root at the networks' name servers."""

    def teardown(self) -> None:
        """Remove every kernel object the backend made on this host."""

    def close(self) -> None:
        """Stop what serves while the agent runs (name servers); kernel objects stay."""


# Kernel object names: interface names end at 15 bytes; every name starts with "dy" so the
# agent recognises its own objects and leaves everyone else's alone.
BRIDGE_PREFIX = "dyn"
VXLAN_PREFIX = "dyx"
PORT_PREFIX = "dyp"
MARK_BASE = 0x0D000000  # fwmark, conntrack mark and routing table of network VNI: BASE+VNI
RULE_PREF = 1100  # priority of the policy-routing rules the backend owns
VXLAN_PORT = 4789


def bridge_name(vni: int) -> str:
    return f"{BRIDGE_PREFIX}{vni:06x}"


def vxlan_name(vni: int) -> str:
    return f"{VXLAN_PREFIX}{vni:06x}"


def port_device(port_id: str) -> str:
    """The host end of a port's veth pair (the port id's first 12 hex digits)."""
    return f"{PORT_PREFIX}{port_id.replace('-', '')[:12]}"


def network_mark(vni: int) -> int:
    return MARK_BASE + vni


def gateway_mac(vni: int) -> str:
    """The same on every host: the gateway address answers with one MAC network-wide."""
    return f"0e:d7:{(vni >> 16) & 0xFF:02x}:{(vni >> 8) & 0xFF:02x}:{vni & 0xFF:02x}:01"
