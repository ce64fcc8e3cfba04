"""Kernel plumbing for the many-host bed: a bridge, one network namespace per host, cleanup.

Every name carries the bed's suffix, so two beds (or a bed and the shared default engine)
never touch each other's objects. Each helper is safe to call again after a partial failure.
"""

from __future__ import annotations

import ipaddress
import random
import subprocess
from pathlib import Path

NETNS_DIR = Path("/run/netns")


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 under 10.231.0.0/16 that no interface or route on this machine uses yet."""
    used = run("ip", "-4", "route", "show", "table", "all").stdout
    taken = {line.split()[0] for line in used.splitlines() if line and line[0].isdigit()}
    for _ in range(200):
        # a random pick only spreads concurrent test runs apart; nothing secret depends on it
        net = ipaddress.IPv4Network(f"10.231.{random.randint(1, 254)}.0/24")  # noqa: S311
        if not any(_overlaps(net, other) for other in taken):
            return net
    raise RuntimeError("no free /24 under 10.231.0.0/16 for the test bed")


def _overlaps(net: ipaddress.IPv4Network, text: str) -> bool:
    try:
        return net.overlaps(ipaddress.IPv4Network(text, strict=False))
    except ValueError:
        return False


def forward_rule(bridge: str) -> list[str]:
    # A FORWARD policy of DROP (set once any dockerd ran) would block host-to-host traffic.
    return ["DOCKER-USER", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]


def add_bridge(bridge: str, address: str) -> None:
    run("ip", "link", "add", bridge, "type", "bridge")
    run("ip", "addr", "add", address, "dev", bridge)
    run("ip", "link", "set", bridge, "up")
    if run("iptables", "-n", "-L", "DOCKER-USER", check=False).returncode != 0:
        run("iptables", "-N", "DOCKER-USER")
    run("iptables", "-I", *forward_rule(bridge))


def add_namespace(netns: str, veth: str, bridge: str, address: str) -> None:
    """A network namespace whose eth0 is a veth plugged into the bridge, at `address`."""
    run("ip", "netns", "add", netns)
    run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
    run("ip", "link", "set", veth, "master", bridge, "up")
    run("ip", "-n", netns, "addr", "add", address, "dev", "eth0")
    run("ip", "-n", netns, "link", "set", "eth0", "up")
    run("ip", "-n", netns, "link", "set", "lo", "up")


def remove_namespace(netns: str, veth: str) -> None:
    run("ip", "link", "del", veth, check=False)  # takes its peer (eth0) with it
    run("ip", "netns", "del", netns, check=False)


def remove_bridge(bridge: str) -> None:
    while run("iptables", "-D", *forward_rule(bridge), check=False).returncode == 0:
        pass
    run("ip", "link", "del", bridge, check=False)


def unmount_under(path: Path) -> None:
    """Unmount whatever an engine left mounted below path (deepest first)."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    points = [line.split()[1] for line in mounts if line.split()[1].startswith(f"{path}/")]
    for point in sorted(points, key=len, reverse=True):
        run("umount", "-l", point, check=False)


def leftovers(suffix: str, root: Path) -> list[str]:
    """Everything on this machine that still carries the bed's suffix or lives under root."""
    found: list[str] = []
    if NETNS_DIR.exists():
        found += [f"netns {p.name}" for p in NETNS_DIR.iterdir() if suffix in p.name]
    links = run("ip", "-o", "link", "show").stdout
    found += [f"link {line.split(':')[1].strip()}" for line in links.splitlines() if suffix in line]
    rules = run("iptables", "-S", "DOCKER-USER", check=False).stdout
    found += [f"iptables {line}" for line in rules.splitlines() if suffix in line]
    procs = run("ps", "-eo", "pid=,args=").stdout
    found += [f"process {line.strip()}" for line in procs.splitlines() if str(root) in line]
    mounts = Path("/proc/self/mounts").read_text()
    found += [f"mount {line.split()[1]}" for line in mounts.splitlines() if str(root) in line]
    if root.exists():
        found.append(f"directory {root}")
    return found
