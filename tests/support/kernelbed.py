"""Hosts and "containers" as bare network namespaces, for driving a network backend directly.

Hosts are namespaces on an underlay bridge (as the many-host bed makes them, without
engines); a container is a `sleep` in a namespace of its own, which a backend connects to
by pid as it does a sandbox. Probes run inside a namespace with `nsenter --net`. Every
name carries the bed's suffix; close() removes everything and leftovers() checks that.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.agent.netplane.vxlan import KernelBackend
from tests.support import netbed

# A TCP server answering every connection with its name; a client printing what it got.
SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[2].encode()); c.close()
"""
CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    print(c.recv(100).decode())
except OSError as e:
    print("FAIL", e)
"""
# One DNS A query to a server; prints the addresses or the response code.
RESOLVE = """
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
q = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0\\0\\1\\0\\1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.sendto(q, (server, 53)); r = s.recv(512)
rcode, count = r[3] & 15, struct.unpack("!H", r[6:8])[0]
print(" ".join(socket.inet_ntoa(r[-4 - 16 * i:][:4]) for i in range(count)) or f"rcode {rcode}")
"""


@dataclass
class Container:
    process: subprocess.Popen[bytes]
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def python(self, script: str, *args: str, timeout: float = 20) -> str:
        argv = ["nsenter", f"--net=/proc/{self.pid}/ns/net", sys.executable, "-c", script]
        done = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=timeout)
        return done.stdout.strip() or done.stderr.strip()

    def serve(self, port: int, word: str) -> None:
        argv = ["nsenter", f"--net=/proc/{self.pid}/ns/net", sys.executable, "-c", SERVER]
        server = subprocess.Popen([*argv, str(port), word], stdout=subprocess.DEVNULL)
        self.servers.append(server)
        time.sleep(0.3)

    def reach(self, address: str, port: int, timeout: float = 2.0) -> str:
        """What the server at address:port says, or a line starting with FAIL."""
        return self.python(CLIENT, address, str(port), str(timeout))

    def resolve(self, name: str, server: str) -> str:
        return self.python(RESOLVE, name, server)

    def kill(self) -> None:
        for process in [*self.servers, self.process]:
            process.kill()
            process.wait(5)


class KernelBed:
    """An underlay bridge, `hosts` host namespaces with a KernelBackend each, containers."""

    def __init__(self, hosts: int = 3) -> None:
        self.suffix = secrets.token_hex(3)
        self.bridge = f"dyk{self.suffix}"
        self.subnet = netbed.free_subnet()
        self.gateway = str(self.subnet.network_address + 1)
        self.addresses = [str(self.subnet.network_address + 11 + i) for i in range(hosts)]
        self.netns = [f"dykh{self.suffix}{i}" for i in range(hosts)]
        self.backends: list[KernelBackend] = []
        self.containers: list[Container] = []

    def start(self) -> KernelBed:
        try:
            netbed.add_bridge(self.bridge, f"{self.gateway}/{self.subnet.prefixlen}")
            for i, netns in enumerate(self.netns):
                veth = f"dykv{self.suffix}{i}"
                address = f"{self.addresses[i]}/{self.subnet.prefixlen}"
                netbed.add_namespace(netns, veth, self.bridge, address)
                # The world beyond the host: the underlay's gateway (the root namespace).
                netbed.run("ip", "-n", netns, "route", "add", "default", "via", self.gateway)
                self.backends.append(KernelBackend(str(netbed.NETNS_DIR / netns)))
        except BaseException:
            self.close()
            raise
        return self

    def container(self) -> Container:
        """A process in a fresh network namespace of its own (nothing in it but lo)."""
        process = subprocess.Popen(["unshare", "--net", "sleep", "900"])  # noqa: S607
        mine = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{process.pid}/ns/net") == mine:
            if time.monotonic() > deadline:
                raise RuntimeError("unshare did not switch namespace")
            time.sleep(0.01)
        made = Container(process)
        self.containers.append(made)
        return made

    def listen_outside(self, port: int) -> threading.Event:
        """A TCP listener in the root namespace on the underlay gateway; set when reached."""
        reached = threading.Event()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.gateway, port))
        sock.listen(8)
        sock.settimeout(30)

        def accept() -> None:
            try:
                while True:
                    conn, _ = sock.accept()
                    reached.set()  # before the answer: the caller checks it once answered
                    conn.sendall(b"world")
                    conn.close()
            except OSError:
                sock.close()

        threading.Thread(target=accept, daemon=True).start()
        return reached

    def host_links(self, index: int) -> list[str]:
        out = netbed.run("ip", "-n", self.netns[index], "-o", "link", "show").stdout
        return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]

    def close(self) -> None:
        for container in self.containers:
            container.kill()
        for backend in self.backends:
            backend.teardown()
            backend.close()
        for i, netns in enumerate(self.netns):
            netbed.remove_namespace(netns, f"dykv{self.suffix}{i}")
        netbed.remove_bridge(self.bridge)

    def leftovers(self) -> list[str]:
        return netbed.leftovers(self.suffix, Path(f"/tmp/{self.bridge}"))
