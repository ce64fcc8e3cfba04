"""The host API's health probe: an HTTP GET to a member's own address, from inside its network
namespace (the health policy's NODE_STATUS_POLL_URL).

The control plane has no leg on tenant networks, so the member's agent polls for it. The
socket is made in the container's namespace (setns in a short-lived thread) and bound to the
address it is to reach before it connects: binding fails unless that address is one of the
namespace's own interfaces, so the connection never leaves the member (no reaching the host,
its metadata services or another tenant's network, whatever address the caller names).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard.agent.netplane.dns import in_netns
from dockyard.errors import InvalidValue, RuntimeConflict
from dockyard.runtime.base import ContainerRuntime

Handler = Callable[[Request], Awaitable[Response]]

MAX_TIMEOUT = 30.0  # s: a probe holds one of the agent's sockets no longer
MAX_BODY = 64 * 1024  # bytes of the answer read to look for the healthy response


def probe_routes(
    prefix: str, guarded: Callable[[Handler], Handler], probing: Callable[[Request], bool]
) -> list[Route]:
    """The route under a container's prefix, behind the host's token; `probing` says whether
    the addressed host's containers have namespaces of their own (hollow hosts have none)."""

    async def probe(request: Request) -> Response:
        if not probing(request):
            raise RuntimeConflict(reason="this host's containers have no network namespace")
        body = await request.json()
        ip, port, path, timeout = _target(body)
        expected = str(body.get("expected") or "")
        runtime: ContainerRuntime = request.state.runtime
        engine_id = request.path_params["engine_id"]
        pid = await asyncio.to_thread(runtime.netns_pid, engine_id)
        if pid is None:
            return JSONResponse(_verdict(False, False, None, "The container does not run."))
        sock = await asyncio.to_thread(_member_socket, pid, ip)
        try:
            verdict = await _get(sock, ip, port, path, timeout, expected)
        finally:
            sock.close()
        return JSONResponse(verdict)

    return [Route(f"{prefix}/probe", guarded(probe), methods=["POST"])]


def _target(
    body: Any,
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int, str, float]:
    if not isinstance(body, dict):
        raise InvalidValue("The probe body is an object.")
    try:
        ip = ipaddress.ip_address(str(body["ip"]))
        port = int(body["port"])
        path = str(body.get("path") or "/")
        timeout = float(body.get("timeout", 5.0))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidValue(f"Bad probe target: {exc}") from exc
    if ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        raise InvalidValue(f"{ip} is not an address of the member's networks.")
    if not 0 < port < 65536:
        raise InvalidValue(f"Port {port} is out of range.")
    if not path.startswith("/") or any(c.isspace() or ord(c) < 32 for c in path):
        raise InvalidValue("The probe path is an absolute path without spaces.")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise InvalidValue(f"The probe timeout is above 0 and at most {MAX_TIMEOUT} s.")
    return ip, port, path, timeout


def _member_socket(pid: int, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> socket.socket:
    """A TCP socket in pid's network namespace, bound to ip (which must be one of its own)."""
    netns = f"/proc/{pid}/ns/net"
    mine, theirs = os.stat("/proc/self/ns/net"), os.stat(netns)
    if (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino):
        # host networking: the member's addresses are the host's; probing them is the host
        raise InvalidValue("The member shares the host's network namespace; it is not probed.")
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET

    def make() -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((str(ip), 0))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    try:
        return in_netns(netns, make)
    except OSError as exc:
        raise InvalidValue(f"{ip} is not an address of the member ({exc.strerror}).") from exc


async def _get(
    sock: socket.socket,
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
    port: int,
    path: str,
    timeout: float,
    expected: str,
) -> dict[str, Any]:
    """GET path over the bound socket: healthy on a 2xx whose body holds `expected` (if
    given). HTTP/1.0, so the answer is neither chunked nor kept open: it ends with the
    connection."""
    loop = asyncio.get_running_loop()
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (str(ip), port))
    except (OSError, TimeoutError) as exc:
        return _verdict(False, False, None, f"No connection to port {port}: {_why(exc)}.")
    request = f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: dockyard-health\r\n\r\n"
    answer = b""
    try:
        async with asyncio.timeout(timeout):
            await loop.sock_sendall(sock, request.encode("ascii"))
            while len(answer) < MAX_BODY:
                chunk = await loop.sock_recv(sock, MAX_BODY - len(answer))
                if not chunk:
                    break
                answer += chunk
    except (OSError, TimeoutError) as exc:
        if not answer:
            return _verdict(False, True, None, f"No answer: {_why(exc)}.")
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return _verdict(False, True, None, "The answer is not HTTP.")
    status = int(parts[1])
    if not 200 <= status < 300:
        return _verdict(False, True, status, f"HTTP {status}.")
    if expected and expected not in body.decode("utf-8", errors="replace"):
        return _verdict(False, True, status, f"HTTP {status} without {expected!r}.")
    return _verdict(True, True, status, f"HTTP {status}.")


def _verdict(healthy: bool, connected: bool, status: int | None, reason: str) -> dict[str, Any]:
    return {"healthy": healthy, "connected": connected, "status": status, "reason": reason}


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return getattr(exc, "strerror", None) or type(exc).__name__
