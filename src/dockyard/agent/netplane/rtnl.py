"""The few rtnetlink requests that plug a port, sent from this process (no `ip` to spawn).

A port is plugged on a container's way to running; each `ip` process cost ≈10-25 ms of CPU
here, and these requests cost tens of microseconds. A netlink socket belongs to the network
namespace it was opened in for good, so one opened inside a container's namespace (see
dns.in_netns) configures that namespace from any thread.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator

from dockyard.agent.netplane.dns import in_netns

# linux/rtnetlink.h, linux/netlink.h, linux/if_link.h, linux/veth.h
NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 18, 20, 24
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER = 1, 3, 4, 10
IFLA_LINKINFO, IFLA_NET_NS_PID, IFLA_IFALIAS = 18, 19, 20
IFLA_INFO_KIND, IFLA_INFO_DATA, VETH_INFO_PEER = 1, 2, 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
IFF_UP = 0x1

_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefix length, flags, scope, index
_RTMSG = struct.Struct(
    "=BBBBBBBBI"
)  # rtmsg: family, dst/src len, tos, table, proto, scope, type, flags


def _attr(kind: int, value: bytes) -> bytes:
    size = 4 + len(value)
    return struct.pack("=HH", size, kind) + value + b"\0" * (-size % 4)


def _name(text: str) -> bytes:
    return text.encode() + b"\0"


def _u32(value: int) -> bytes:
    return struct.pack("=I", value)


def _ifinfo(index: int = 0, up: bool = False) -> bytes:
    return _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP if up else 0)


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ipv4(text: str) -> bytes:
    return ipaddress.IPv4Address(text).packed


class Rtnl:
    """One NETLINK_ROUTE socket in one namespace (the agent's own when `netns` is None).

    Not thread-safe: the kernel backend holds its lock around a port's requests.
    """

    def __init__(self, netns: str | None = None) -> None:
        self._sock = in_netns(netns, _route_socket)
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_veth(self, name: str, mtu: int, peer: str, peer_mac: str, peer_pid: int) -> None:
        """A veth pair whose other end is born named `peer` inside process `peer_pid`'s
        namespace, with its MAC (one request: it is never seen here under a temporary name)."""
        peer_attrs = (
            _ifinfo()
            + _attr(IFLA_IFNAME, _name(peer))
            + _attr(IFLA_MTU, _u32(mtu))
            + _attr(IFLA_ADDRESS, _mac(peer_mac))
            + _attr(IFLA_NET_NS_PID, _u32(peer_pid))
        )
        info = _attr(IFLA_INFO_KIND, b"veth") + _attr(
            IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_attrs)
        )
        body = _ifinfo() + _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_MTU, _u32(mtu))
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body + _attr(IFLA_LINKINFO, info))

    def set_link(
        self, name: str, *, up: bool = False, master: str | None = None, alias: str | None = None
    ) -> None:
        """Change the link called `name` (looked up by the kernel from the name)."""
        body = _ifinfo(up=up) + _attr(IFLA_IFNAME, _name(name))
        if master is not None:
            body += _attr(IFLA_MASTER, _u32(self.index(master)))
        if alias is not None:
            body += _attr(IFLA_IFALIAS, _name(alias))
        self._request(RTM_NEWLINK, 0, body)

    def delete_link(self, name: str) -> bool:
        """Remove the link; False if there was none of that name."""
        try:
            self._request(RTM_DELLINK, 0, _ifinfo() + _attr(IFLA_IFNAME, _name(name)))
        except OSError as exc:
            if exc.errno == errno.ENODEV:
                return False
            raise
        return True

    def index(self, name: str) -> int:
        for kind, body in self._request(
            RTM_GETLINK, 0, _ifinfo() + _attr(IFLA_IFNAME, _name(name))
        ):
            if kind == RTM_NEWLINK:
                return int(_IFINFO.unpack_from(body)[2])
        raise OSError(errno.ENODEV, f"no link {name}")

    def add_address(self, device: str, address: str, prefixlen: int) -> None:
        """As `ip addr add ADDRESS/PREFIXLEN dev DEVICE` (no broadcast address)."""
        head = _IFADDR.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, self.index(device))
        packed = _ipv4(address)
        body = head + _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
        self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def replace_default_route(self, gateway: str, device: str) -> None:
        """As `ip route replace default via GATEWAY dev DEVICE`."""
        head = _RTMSG.pack(
            socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0
        )
        body = head + _attr(RTA_GATEWAY, _ipv4(gateway)) + _attr(RTA_OIF, _u32(self.index(device)))
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body)

    def _request(self, kind: int, flags: int, body: bytes) -> list[tuple[int, bytes]]:
        """Send one request; its replies (type, payload) up to the kernel's acknowledgement.

        A refusal raises OSError with the kernel's errno, as `ip` would have reported it."""
        self._seq += 1
        seq = self._seq
        header = _HEADER.pack(
            _HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0
        )
        self._sock.send(header + body)
        replies: list[tuple[int, bytes]] = []
        while True:
            data = self._sock.recv(65536)
            for reply_kind, reply_seq, payload in _messages(data):
                if reply_seq != seq:
                    continue  # an answer to an earlier request given up on
                if reply_kind != NLMSG_ERROR:
                    replies.append((reply_kind, payload))
                    continue
                code = struct.unpack_from("=i", payload)[0]
                if code:
                    raise OSError(-code, os.strerror(-code))
                return replies


def _messages(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, kind, _flags, seq, _port = _HEADER.unpack_from(data, offset)
        if length < _HEADER.size:
            return
        yield kind, seq, data[offset + _HEADER.size : offset + length]
        offset += (length + 3) & ~3


def _route_socket() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
    except OSError:
        sock.close()
        raise
    return sock
