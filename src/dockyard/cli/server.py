"""`dockyard serve`, `dockyard api` and `dockyard agent`: the processes Dockyard runs as."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
from collections.abc import Coroutine, Generator
from pathlib import Path
from typing import Any

import click
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


async def _run_until_signal(servers: list[_Server], tasks: list[Coroutine[Any, Any, None]]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = [asyncio.create_task(t) for t in tasks]
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *running], return_when=asyncio.FIRST_COMPLETED)
    for task in done:
        if task is not waiter and task.exception():
            log.error("component failed: %r", task.exception())
    for server in servers:
        server.should_exit = True
    for task in running:
        if not task.done() and task not in done:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), 5)
            task.cancel()
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
    )
    client = AgentClient(control_plane_url, settings.agent.agent_token)
    server = _uvicorn(create_host_api(runtime, token), settings)
    return server, sock, Agent(config, runtime, client)


async def serve_all(settings: Settings) -> None:
    """Control plane and one agent in one process; the agent still talks HTTP to the API."""
    if not settings.agent.agent_token:
        settings.agent.agent_token = secrets.token_urlsafe(32)
    api_sock = _bind(settings.api.host, settings.api.port)
    api_server = _uvicorn(create_app(settings), settings)
    api_host = settings.api.host if settings.api.host not in ("0.0.0.0", "::") else "127.0.0.1"
    url = settings.agent.control_plane_url or f"http://{api_host}:{api_sock.getsockname()[1]}"
    host_server, host_sock, agent = _agent_parts(settings, url)
    log.info("Dockyard serving the Zun API on http://%s:%d/v1", api_host, api_sock.getsockname()[1])
    await _run_until_signal(
        [api_server, host_server],
        [api_server.serve([api_sock]), host_server.serve([host_sock]), agent.run()],
    )


async def serve_api(settings: Settings) -> None:
    api_sock = _bind(settings.api.host, settings.api.port)
    api_server = _uvicorn(create_app(settings), settings)
    await _run_until_signal([api_server], [api_server.serve([api_sock])])


async def serve_agent(settings: Settings) -> None:
    url = settings.agent.control_plane_url
    if not url:
        raise click.UsageError("--control-plane (or DOCKYARD_AGENT__CONTROL_PLANE_URL) is required")
    host_server, host_sock, agent = _agent_parts(settings, url)
    await _run_until_signal([host_server], [host_server.serve([host_sock]), agent.run()])


def _settings(**overrides: Any) -> Settings:
    settings = Settings()
    if overrides.get("data_dir"):
        settings.data_dir = Path(overrides["data_dir"])
    if overrides.get("host"):
        settings.api.host = overrides["host"]
    if overrides.get("port") is not None:
        settings.api.port = overrides["port"]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port of the API (default 9517).")
@click.option("--data-dir", default=None, help="Directory for SQLite and local state.")
def serve(host: str | None, port: int | None, data_dir: str | None) -> None:
    """Run the control plane and a local agent in one process (SQLite, local engine)."""
    asyncio.run(serve_all(_settings(host=host, port=port, data_dir=data_dir)))


@click.command()
@click.option("--host", default=None, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port of the API.")
@click.option("--data-dir", default=None, help="Directory for local state.")
def api(host: str | None, port: int | None, data_dir: str | None) -> None:
    """Run the control plane only (agents connect to it over HTTP)."""
    asyncio.run(serve_api(_settings(host=host, port=port, data_dir=data_dir)))


@click.command()
@click.option("--control-plane", default=None, help="URL of the control plane.")
def agent(control_plane: str | None) -> None:
    """Run a host agent against a control plane."""
    settings = _settings()
    if control_plane:
        settings.agent.control_plane_url = control_plane
    asyncio.run(serve_agent(settings))
