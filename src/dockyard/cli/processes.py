"""The processes Dockyard runs as: serve (all in one), api, agent; heavy imports live here."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

import uvicorn

from dockyard.agent.hostapi import create_host_api
from dockyard.agent.loop import Agent, AgentConfig
from dockyard.api.app import create_app
from dockyard.client.agent import AgentClient
from dockyard.runtime.docker import DockerRuntime
from dockyard.settings import Settings

log = logging.getLogger("dockyard")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process handles signals once for all."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Responses go out as headers + body writes; without NODELAY, Nagle holds the body
    # until the client's delayed ACK (≈40 ms per keep-alive request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _uvicorn(app: Any, settings: Settings) -> _Server:
    config = uvicorn.Config(
        app, log_level=settings.log_level.lower(), access_log=False, lifespan="auto",
        timeout_graceful_shutdown=3,
    )  # fmt: skip
    return _Server(config)


async def _run_until_signal(
    servers: list[tuple[_Server, socket.socket]],
    workers: list[Coroutine[Any, Any, None]],
    before_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run servers and workers until SIGINT/SIGTERM or until one of them fails.

    Shutdown order matters: workers (the agent) stop first, so no long-poll of theirs keeps
    a server waiting; then open long-polls are ended; then the servers drain and exit.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server_tasks = [asyncio.create_task(s.serve([sock])) for s, sock in servers]
    worker_tasks = [asyncio.create_task(w) for w in workers]
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(
        [waiter, *server_tasks, *worker_tasks], return_when=asyncio.FIRST_COMPLETED
    )
    for task in done:
        if task is not waiter and not task.cancelled() and task.exception():
            log.error("component failed: %r", task.exception())
    for task in worker_tasks:
        task.cancel()
    await asyncio.gather(*worker_tasks, return_exceptions=True)
    if before_shutdown:
        await before_shutdown()
    for server, _sock in servers:
        server.should_exit = True
    await asyncio.wait(server_tasks, timeout=10)
    waiter.cancel()


def _agent_parts(
    settings: Settings, control_plane_url: str
) -> tuple[_Server, socket.socket, Agent]:
    runtime = DockerRuntime(settings.agent.docker_url)
    token = secrets.token_urlsafe(32)  # the host API's secret, new on every start
    sock = _bind(settings.agent.hostapi_host, settings.agent.hostapi_port)
    host, port = sock.getsockname()[:2]
    advertised = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    config = AgentConfig(
        hostname=settings.agent.hostname or "",
        agent_url=f"http://{advertised}:{port}",
        agent_token=token,
        heartbeat_interval=settings.agent.heartbeat_interval,
        resync_interval=settings.agent.resync_interval,
        watch_timeout=settings.agent.watch_timeout,
        workers=settings.agent.workers,
        availability_zone=settings.agent.availability_zone,
        pool_size=settings.agent.pool_size,
    )
    client = AgentClient(control_plane_url, settings.agent.agent_token)
    server = _uvicorn(create_host_api(runtime, token), settings)
    return server, sock, Agent(config, runtime, client)


async def serve_all(settings: Settings) -> None:
    """Control plane and one agent in one process; the agent still talks HTTP to the API."""
    if not settings.agent.agent_token:
        settings.agent.agent_token = secrets.token_urlsafe(32)
    api_sock = _bind(settings.api.host, settings.api.port)
    api_app = create_app(settings)
    api_server = _uvicorn(api_app, settings)
    api_host = settings.api.host if settings.api.host not in ("0.0.0.0", "::") else "127.0.0.1"
    url = settings.agent.control_plane_url or f"http://{api_host}:{api_sock.getsockname()[1]}"
    host_server, host_sock, agent = _agent_parts(settings, url)
    log.info("Dockyard serving the Zun API on http://%s:%d/v1", api_host, api_sock.getsockname()[1])
    await _run_until_signal(
        [(api_server, api_sock), (host_server, host_sock)],
        [agent.run()],
        before_shutdown=lambda: _end_watches(api_app),
    )


async def serve_api(settings: Settings) -> None:
    api_sock = _bind(settings.api.host, settings.api.port)
    api_app = create_app(settings)
    await _run_until_signal(
        [(_uvicorn(api_app, settings), api_sock)], [], before_shutdown=lambda: _end_watches(api_app)
    )


async def _end_watches(app: Any) -> None:
    """Wake every agent long-poll so the server can drain at once."""
    services = getattr(app.state, "services", None)
    if services is not None:
        await services.hosts.signals.close()
        await services.hosts.watch.close()


async def serve_agent(settings: Settings) -> None:
    url = settings.agent.control_plane_url
    if not url:
        raise ValueError("--control-plane (or DOCKYARD_AGENT__CONTROL_PLANE_URL) is required")
    host_server, host_sock, agent = _agent_parts(settings, url)
    await _run_until_signal([(host_server, host_sock)], [agent.run()])
