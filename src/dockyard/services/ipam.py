"""Address arithmetic for central IPAM: subnets, pools, addresses, MACs and VNIs (pure).

The database holds what is taken (a unique constraint per subnet and address decides races);
these functions only say what is free.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Collection, Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network, ip_network

from dockyard.errors import Conflict, InvalidValue

VNI_MAX = 16_777_215  # 24 bits


def network_of(cidr: str) -> IPv4Network:
    """An IPv4 subnet, given exactly (no host bits), or a 400 saying what is wrong."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError:
        raise InvalidValue(
            f"Invalid input for cidr. Reason: '{cidr}' is not a valid IP subnet."
        ) from None
    if not isinstance(net, IPv4Network):
        raise InvalidValue("Only IPv4 subnets are supported by this deployment.")
    if net.prefixlen > 30:
        raise InvalidValue(f"Subnet {cidr} is too small: use a prefix of /30 or shorter.")
    return net


def address_of(text: str, what: str = "ip_address") -> IPv4Address:
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidValue(
            f"Invalid input for {what}. Reason: '{text}' is not a valid IP address."
        ) from None
    if not isinstance(found, IPv4Address):
        raise InvalidValue(f"Invalid input for {what}: only IPv4 addresses are supported.")
    return found


def default_gateway(net: IPv4Network) -> str:
    return str(next(net.hosts()))


def service_address(cidr: str) -> str:
    """A subnet without a gateway still needs one address on the hosts' bridges, for the name
    service (no route out through it): its last host address, kept out of the pools."""
    return str(ip_network(cidr).broadcast_address - 1)


def default_pools(net: IPv4Network, gateway: str | None) -> list[dict[str, str]]:
    """Neutron's allocation pools: every host address but the gateway's (without a gateway,
    but the name service's)."""
    first, last = _bounds(net)
    if gateway is None:
        return [{"start": str(first), "end": str(last - 1)}]
    gw = IPv4Address(gateway)
    pools = []
    if first < gw:
        pools.append({"start": str(first), "end": str(gw - 1)})
    if gw < last:
        pools.append({"start": str(max(first, gw + 1)), "end": str(last)})
    return pools


def _bounds(net: IPv4Network) -> tuple[IPv4Address, IPv4Address]:
    return net.network_address + 1, net.broadcast_address - 1


def check_pools(net: IPv4Network, pools: list[dict[str, str]], gateway: str | None) -> None:
    """Each pool within the subnet's host addresses and not holding the gateway."""
    low, high = _bounds(net)
    for pool in pools:
        start, end = address_of(pool.get("start", ""), "start"), address_of(pool.get("end", ""))
        if not low <= start <= end <= high:
            raise InvalidValue(f"The allocation pool {start}-{end} spans beyond the subnet {net}.")
        if gateway is not None and start <= IPv4Address(gateway) <= end:
            raise Conflict(f"Gateway ip {gateway} conflicts with allocation pool {start}-{end}.")


def pool_addresses(pools: Iterable[dict[str, str]]) -> Iterator[IPv4Address]:
    for pool in pools:
        current, end = IPv4Address(pool["start"]), IPv4Address(pool["end"])
        while current <= end:
            yield current
            current += 1


def free_address(pools: list[dict[str, str]], used: Collection[str]) -> str | None:
    """The lowest address of the pools that nobody holds, or None when all are taken."""
    for address in pool_addresses(pools):
        if str(address) not in used:
            return str(address)
    return None


def in_pools(ip: str, pools: list[dict[str, str]]) -> bool:
    address = IPv4Address(ip)
    return any(IPv4Address(p["start"]) <= address <= IPv4Address(p["end"]) for p in pools)


def overlapping(net: IPv4Network, others: Iterable[str]) -> str | None:
    """The first of others (CIDRs) that overlaps net, if any."""
    for other in others:
        if net.overlaps(ipaddress.ip_network(other)):
            return other
    return None


def carve(prefixes: list[str], prefixlen: int, taken: Collection[str]) -> IPv4Network | None:
    """The first subnet of prefixlen inside the pool's prefixes that overlaps nothing taken."""
    for prefix in prefixes:
        pool = ipaddress.ip_network(prefix)
        if not isinstance(pool, IPv4Network) or prefixlen < pool.prefixlen:
            continue
        for candidate in pool.subnets(new_prefix=prefixlen):
            if overlapping(candidate, taken) is None:
                return candidate
    return None


def within_pool(net: IPv4Network, prefixes: list[str]) -> bool:
    return any(net.subnet_of(ipaddress.ip_network(p)) for p in prefixes)  # type: ignore[arg-type]


def new_mac() -> str:
    """A random locally administered unicast MAC (first octet 0x02): never a vendor's."""
    return "02:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(5))


def new_vni() -> int:
    """A random VXLAN id; the unique column refuses a (rare) repeat, and the caller retries."""
    return 4096 + secrets.randbelow(VNI_MAX - 4096)
