"""Names of containers on a network, served by the agent on the network's gateway address.

Why a responder on the gateway rather than /etc/hosts: containers that share a sandbox
share its network namespace but not necessarily files, hosts come and go, and names must
resolve across hosts as containers start elsewhere. A responder bound to the gateway
address of each network's bridge (the same address on every host, answered locally) sees
the records the control plane sent and changes with them at once; the sandbox's
resolv.conf (shared by every container joining it) points there. It answers A queries for
its own network's names only, says NODATA for other types of a known name, and REFUSED for
anything else so that the resolver asks the next server; it forwards nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import select
import socket
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

log = logging.getLogger(__name__)

NOERROR, REFUSED, FORMERR = 0, 5, 1
TYPE_A, CLASS_IN = 1, 1
TTL = 5  # seconds: names move when containers do


@dataclass(frozen=True)
class Zone:
    """One network's name server: where it listens and what it knows."""

    device: str  # the network's bridge
    address: str  # the gateway address on it
    records: dict[str, tuple[str, ...]]  # lower-case name -> addresses


def answer(query: bytes, records: Mapping[str, tuple[str, ...]]) -> bytes | None:
    """The reply to one DNS query, or None when it is not a query worth answering."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000 or qdcount != 1:
        return None
    parsed = _question(query)
    if parsed is None:
        return _reply(ident, flags, FORMERR, b"", [])
    name, qtype, qclass, question = parsed
    addresses = records.get(name.lower().rstrip("."))
    if addresses is None:
        return _reply(ident, flags, REFUSED, question, [])
    wanted = addresses if qtype == TYPE_A and qclass == CLASS_IN else ()
    return _reply(ident, flags, NOERROR, question, list(wanted))


def _question(query: bytes) -> tuple[str, int, int, bytes] | None:
    labels: list[str] = []
    offset = 12
    while offset < len(query):
        length = query[offset]
        if length == 0:
            end = offset + 5
            if end > len(query):
                return None
            qtype, qclass = struct.unpack("!HH", query[offset + 1 : end])
            return ".".join(labels), qtype, qclass, query[12:end]
        if length > 63:
            return None  # compression has no place in a question
        labels.append(query[offset + 1 : offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    return None


def _reply(ident: int, flags: int, rcode: int, question: bytes, addresses: list[str]) -> bytes:
    # QR, the query's opcode and RD, AA; RA stays off (this server recurses for no one).
    out_flags = 0x8000 | (flags & 0x7900) | 0x0400 | rcode
    header = struct.pack("!HHHHHH", ident, out_flags, 1 if question else 0, len(addresses), 0, 0)
    answers = b"".join(
        b"\xc0\x0c" + struct.pack("!HHIH", TYPE_A, CLASS_IN, TTL, 4) + socket.inet_aton(a)
        for a in addresses
    )
    return header + question + answers


def enter_netns(netns: str) -> None:
    """Move the calling thread (only it: setns(2)) into the network namespace at `netns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(netns, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), f"setns {netns}")
    finally:
        os.close(fd)


def in_netns(netns: str | None, make: Callable[[], socket.socket]) -> socket.socket:
    """Make a socket in another network namespace (a test's host); it stays bound there.

    setns(2) changes only the calling thread's namespace, so a short-lived thread does it.
    """
    if netns is None:
        return make()
    made: list[socket.socket | BaseException] = []

    def inside() -> None:
        try:
            enter_netns(netns)
            made.append(make())
        except BaseException as failure:  # handed to the caller's thread below
            made.append(failure)

    worker = threading.Thread(target=inside)
    worker.start()
    worker.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


class DnsResponder:
    """One UDP socket per network (gateway:53, bound to the bridge), served by one thread."""

    def __init__(self, netns: str | None = None, port: int = 53) -> None:
        self.netns = netns
        self.port = port
        self._zones: dict[str, Zone] = {}
        self._sockets: dict[str, socket.socket] = {}
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def update(self, zones: list[Zone]) -> None:
        """Serve exactly these zones (sockets opened and closed as networks come and go)."""
        wanted = {zone.device: zone for zone in zones}
        if self._stop.is_set():  # closed: serve again only if there is something to serve
            if not wanted:
                return
            self._stop.clear()
            self._wake_r, self._wake_w = socket.socketpair()
            self._thread = None
        with self._lock:
            for device in list(self._sockets):
                old = self._zones.get(device)
                if device not in wanted or (old and old.address != wanted[device].address):
                    self._sockets.pop(device).close()
            for device, zone in wanted.items():
                if device not in self._sockets:
                    self._sockets[device] = in_netns(self.netns, partial(self._bind, zone))
            self._zones = wanted
        self._ensure_thread()
        self._wake_w.send(b"x")

    def _bind(self, zone: Zone) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Two networks may share a CIDR, hence a gateway address: the device tells them apart.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, zone.device.encode())
        sock.bind((zone.address, self.port))
        return sock

    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="netplane-dns", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                devices = {s: device for device, s in self._sockets.items()}
            try:
                ready, _, _ = select.select([self._wake_r, *devices], [], [], 1)
            except (OSError, ValueError):
                continue  # a socket closed by an update meanwhile: look again
            for sock in ready:
                if sock is self._wake_r:
                    self._wake_r.recv(64)
                else:
                    self._handle(devices[sock], sock)

    def _handle(self, device: str, sock: socket.socket) -> None:
        try:
            query, source = sock.recvfrom(1500)
        except OSError:
            return  # closed by an update meanwhile
        zone = self._zones.get(device)
        reply = answer(query, zone.records) if zone is not None else None
        if reply is not None:
            try:
                sock.sendto(reply, source)
            except OSError as failure:
                log.debug("dns reply on %s failed: %s", device, failure)

    def close(self) -> None:
        """Stop serving (idempotent; a later update with zones serves again)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake_w.send(b"x")
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            for sock in self._sockets.values():
                sock.close()
            self._sockets.clear()
        self._wake_r.close()
        self._wake_w.close()


def resolv_conf(servers: list[str], upstream: str) -> str:
    """A resolv.conf asking the networks' servers first, then the host's own (non-local) ones
    for names outside the networks (the network servers refuse those)."""
    lines = [f"nameserver {server}" for server in servers]
    for line in upstream.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver" and not words[1].startswith("127."):
            lines.append(f"nameserver {words[1]}")
    lines.append("options ndots:0 timeout:1 attempts:2")
    return "\n".join(lines) + "\n"


HOSTS_MARK = "# dockyard port"


def hosts_file(current: str, hostname: str, addresses: list[str]) -> str:
    """The container's hosts file naming its own addresses, as Docker writes it for a
    container on one of its networks (`hostname -i` reads it). With no engine network the
    engine writes only the loopback lines; ours carry a mark so a re-plug replaces them."""
    kept = [line for line in current.splitlines() if not line.endswith(HOSTS_MARK)]
    ours = [f"{ip}\t{hostname}\t{HOSTS_MARK}" for ip in addresses]
    return "\n".join([*kept, *ours]) + "\n"
