"""The processes Dockyard runs as: serve (all in one), api, agent; heavy imports live here."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import secrets
import signal
import socket
import tempfile
from collections.abc import Awaitable, Callable, Coroutine, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

from dockyard import errors
from dockyard.agent.cpumeter import CpuMeter
from dockyard.agent.hostapi import create_host_api
from dockyard.agent.identity import stores as identity_stores
from dockyard.agent.loop import Agent, AgentConfig
from dockyard.agent.membership import HostRemoved, Membership, rotate
from dockyard.agent.netplane.backend import NetworkBackend
from dockyard.agent.netplane.vxlan import KernelBackend
from dockyard.api.app import create_app
from dockyard.client.agent import (
    AgentClient,
    ControlPlane,
    ControlPlaneUnavailable,
    CredentialRefused,
    JoinRefused,
)
from dockyard.runtime.base import ContainerRuntime
from dockyard.runtime.demo import DEMO_IMAGE
from dockyard.runtime.docker import DockerRuntime
from dockyard.runtime.docker_terminals import DockerTerminals
from dockyard.runtime.fake import FakeRuntime
from dockyard.runtime.terminals import Terminals
from dockyard.settings import ConfigError, Settings

log = logging.getLogger("dockyard")
DEFAULT_ENGINE = "unix:///var/run/docker.sock"


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process handles signals once for all."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind(host: str, port: int, what: str = "the API") -> socket.socket:
    """A listening socket, or ConfigError saying in one line why there is none."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Responses go out as headers + body writes; without NODELAY, Nagle holds the body
    # until the client's delayed ACK (≈40 ms per keep-alive request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = " (is Dockyard already running? choose another with --port)"
        raise ConfigError(
            f"cannot listen for {what} on {host}:{port}: {exc.strerror}"
            + (hint if exc.errno == errno.EADDRINUSE else "")
        ) from None
    sock.set_inheritable(True)
    return sock


def _check_data_dir(settings: Settings) -> None:
    """Fail at once, in one line, when SQLite could not write its database."""
    if settings.database.url:
        return  # the data lives in another database
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"data directory {path} is not writable: {exc.strerror} (choose one with --data-dir)"
        ) from None


async def _check_engine(settings: Settings) -> None:
    """Fail at once, in one line, when no container engine answers (serve needs one)."""
    if settings.agent.runtime == "fake":
        return
    runtime = DockerRuntime(settings.agent.docker_url)
    try:
        await asyncio.to_thread(runtime.host_info)
    except errors.DockyardError:
        where = settings.agent.docker_url or os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE
        raise ConfigError(
            f"no Docker engine answers at {where}: start one (./dev serve does) "
            "or point DOCKYARD_AGENT__DOCKER_URL at it"
        ) from None
    finally:
        runtime.close()


KEEP_ALIVE_SECONDS = 75


def _uvicorn(app: Any, settings: Settings) -> _Server:
    # No log_config/log_level: the CLI has configured logging once for the whole process.
    # Idle keep-alive connections live 75 s (uvicorn's default is 5): the OpenStack clients
    # poll with `--wait` every 5 s on one connection and do not retry a GET whose reused
    # connection the server closed at that very moment ("Connection reset by peer").
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="auto", timeout_graceful_shutdown=3,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )  # fmt: skip
    return _Server(config)


async def _run_until_signal(
    servers: list[tuple[_Server, socket.socket]],
    workers: list[Coroutine[Any, Any, None]],
    before_shutdown: Callable[[], Awaitable[None]] | None = None,
) -> ConfigError | None:
    """Run servers and workers until SIGINT/SIGTERM or until one of them fails; returns
    the failure that ended the run (a host refused, a component crashed), if one did.

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
    failure: ConfigError | None = None
    for task in done:
        if task is not waiter and not task.cancelled() and task.exception():
            exc = task.exception()
            log.error("component failed: %r", exc)
            # Any failure ends the process non-zero (a supervisor restarts it); the one an
            # operator must act on says so in its own words.
            if isinstance(exc, ConfigError):
                failure = exc
            elif failure is None:
                failure = ConfigError(f"stopped: a component failed ({exc!r})")
    for task in worker_tasks:
        task.cancel()
    await asyncio.gather(*worker_tasks, return_exceptions=True)
    if before_shutdown:
        await before_shutdown()
    for server, _sock in servers:
        server.should_exit = True
    await asyncio.wait(server_tasks, timeout=10)
    waiter.cancel()
    return failure


@dataclass
class _Agents:
    """The hosts one process runs, their shared host API server and control-plane client."""

    server: _Server
    sock: socket.socket
    agents: list[Agent]
    control_plane: ControlPlane

    async def run(self) -> None:
        """Run every host; one removed or refused host stops alone, the others go on."""
        try:
            results = await asyncio.gather(*(a.run() for a in self.agents), return_exceptions=True)
        finally:
            await self.control_plane.close()
        failures = [r for r in results if isinstance(r, (HostRemoved, JoinRefused))]
        for failure in failures:
            log.error("host stopped: %s", failure)
        if failures:
            raise ConfigError(f"agent stopped: {failures[0]}")
        for result in results:
            if isinstance(result, BaseException):
                raise result


def _host_names(settings: Settings) -> list[str]:
    count = settings.agent.hosts
    if count > 1 and settings.agent.runtime != "fake":
        raise ConfigError("--hosts above 1 needs --runtime fake (hollow hosts)")
    base = settings.agent.name or (socket.gethostname() if count > 1 else "")
    return [base] if count == 1 else [f"{base}-{i:04d}" for i in range(count)]


def _runtime(settings: Settings, name: str) -> ContainerRuntime:
    if settings.agent.runtime == "fake":
        return FakeRuntime(hostname=name or socket.gethostname())
    return DockerRuntime(settings.agent.docker_url)


def _network(settings: Settings, state_dir: Path) -> NetworkBackend | None:
    """The backend that carries tenant networks here (hollow hosts carry none). Its tag,
    from the agent's state directory, is stable across restarts and differs between two
    agents on one machine (test servers), which then leave each other's objects alone."""
    if settings.agent.network_backend == "none" or settings.agent.runtime == "fake":
        return None
    owner = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
    return KernelBackend(owner=owner)


def _agents(
    settings: Settings,
    urls: list[str],
    *,
    rejoin: bool = False,
    transport: httpx.AsyncBaseTransport | None = None,
) -> _Agents:
    """Build the process's hosts: one engine each, one identity each, one host API for all."""
    names = _host_names(settings)
    join_token = settings.agent.join_token
    control_plane = ControlPlane(urls, max_connections=2 * len(names) + 16, transport=transport)
    sock = _bind(settings.agent.hostapi_host, settings.agent.hostapi_port, "the host API")
    host, port = sock.getsockname()[:2]
    advertised = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a comparison
    state_dir = settings.agent.state_dir or settings.data_dir / "agent"
    endpoints: dict[str, tuple[ContainerRuntime, str]] = {}
    terminals: dict[str, Terminals] = {}
    namespaced: list[str] = []
    agents = []
    for name, store in zip(names, identity_stores(state_dir, names), strict=True):
        runtime = _runtime(settings, name)
        secret = secrets.token_urlsafe(32)  # the host API's secret: per host, new every start
        endpoints[name] = (runtime, secret)
        if isinstance(runtime, DockerRuntime):
            terminals[name] = DockerTerminals(settings.agent.docker_url)
            namespaced.append(name)
        path = "" if len(names) == 1 else f"/hosts/{name}"
        config = _agent_config(settings, name, f"http://{advertised}:{port}{path}", secret)
        client = AgentClient(control_plane)
        token = join_token.get_secret_value() if join_token else None
        membership = Membership(client, store, token, rejoin=rejoin)
        # Real engines' containers have cgroups to read their CPU use from; hollow ones none.
        meter = CpuMeter() if isinstance(runtime, DockerRuntime) else None
        network = _network(settings, state_dir)
        agents.append(Agent(config, runtime, client, membership, network, cpu_meter=meter))
    server = _uvicorn(create_host_api(endpoints, terminals, namespaced), settings)
    return _Agents(server, sock, agents, control_plane)


def _agent_config(settings: Settings, name: str, url: str, secret: str) -> AgentConfig:
    return AgentConfig(
        hostname=name,
        agent_url=url,
        agent_token=secret,
        heartbeat_interval=settings.agent.heartbeat_interval,
        resync_interval=settings.agent.resync_interval,
        watch_timeout=settings.agent.watch_timeout,
        workers=settings.agent.workers,
        availability_zone=settings.agent.availability_zone,
        pool_size=settings.agent.pool_size,
        pool_max=settings.agent.pool_max,
        labels=dict(settings.agent.labels),
        follow_events=settings.agent.runtime != "fake",
    )


def _engine_threads(settings: Settings) -> None:
    """Engine calls run in threads; the default pool (cores + 4) is too small for a burst of
    creates next to the long-lived event pump. Hosts of one process share the pool."""
    workers = settings.agent.workers * 2 + 4
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=max(workers, 16), thread_name_prefix="engine")
    )


async def serve_all(settings: Settings, try_command: str = "dockyard") -> None:
    """Control plane and one agent in one process; the agent sends the API HTTP requests.

    The agent starts once the API listens (so its first join succeeds), and "ready" is
    said once the agent has joined and synced: then a container can run.
    """
    if settings.agent.join_token is None:  # only this process's own agent ever joins
        settings.agent.join_token = SecretStr(secrets.token_urlsafe(32))
    _check_data_dir(settings)
    _engine_threads(settings)
    api_sock = _bind(settings.api.host, settings.api.port)
    await _check_engine(settings)
    api_app = create_app(settings)
    api_server = _uvicorn(api_app, settings)
    wildcard = ("0.0.0.0", "::")  # noqa: S104 - compared with, to advertise loopback instead
    api_host = settings.api.host if settings.api.host not in wildcard else "127.0.0.1"
    url = f"http://{api_host}:{api_sock.getsockname()[1]}"
    # Its own control plane is reached in-process (client/agent.py says why); another one,
    # if configured, over the network.
    own = (
        None
        if settings.agent.control_plane
        else httpx.ASGITransport(api_app, raise_app_exceptions=False)  # a 500, as over HTTP
    )
    hosts = _agents(settings, settings.agent.control_plane or [url], rejoin=True, transport=own)
    ready = _say_ready(hosts.agents, url, try_command, settings)
    failure = await _run_until_signal(
        [(api_server, api_sock), (hosts.server, hosts.sock)],
        [_when_listening(api_server, hosts.run()), ready],
        before_shutdown=lambda: _end_watches(api_app),
    )
    log.info("stopped; containers keep running in the engine (`dockyard clean` removes them)")
    if failure is not None:
        raise failure


async def _when_listening(server: _Server, then: Coroutine[Any, Any, None]) -> None:
    """Run `then` once the server has run its start-up (migrations) and listens."""
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it, only this flag
            await asyncio.sleep(0.02)
    except BaseException:
        then.close()  # never awaited: close it so Python does not warn about it
        raise
    await then


async def _say_ready(agents: list[Agent], url: str, try_command: str, settings: Settings) -> None:
    await asyncio.gather(*(agent.ready.wait() for agent in agents))
    if not settings.database.url:
        log.info("data: %s", settings.data_dir.resolve())
    log.info("ready: the Zun API is at %s/v1", url)
    log.info("try: %s run --name hello %s", try_command, DEMO_IMAGE)
    await asyncio.Event().wait()  # a worker runs until the process stops


async def serve_api(settings: Settings) -> None:
    if settings.agent.join_token is None or not settings.agent.join_token.get_secret_value():
        raise ConfigError(
            "a join token is required: pass --join-token or set DOCKYARD_AGENT__JOIN_TOKEN "
            "(agents present it once to join)"
        )
    _check_data_dir(settings)
    api_sock = _bind(settings.api.host, settings.api.port)
    api_app = create_app(settings)
    api_server = _uvicorn(api_app, settings)
    host, port = api_sock.getsockname()[:2]
    failure = await _run_until_signal(
        [(api_server, api_sock)],
        [_when_listening(api_server, _say_listening(f"http://{host}:{port}"))],
        before_shutdown=lambda: _end_watches(api_app),
    )
    if failure is not None:
        raise failure


async def _say_listening(url: str) -> None:
    log.info("ready: the Zun API is at %s/v1", url)
    await asyncio.Event().wait()  # a worker runs until the process stops


async def _end_watches(app: Any) -> None:
    """Wake every agent long-poll so the server can drain at once."""
    wakeups = getattr(app.state, "wakeups", None)
    if wakeups is not None:
        wakeups.close()


async def serve_agent(settings: Settings) -> None:
    """The agent alone: its hosts join (or rejoin) the control plane and converge."""
    if not settings.agent.control_plane:
        raise ConfigError("--control-plane (or DOCKYARD_AGENT__CONTROL_PLANE) is required")
    _engine_threads(settings)
    hosts = _agents(settings, settings.agent.control_plane)
    failure = await _run_until_signal([(hosts.server, hosts.sock)], [hosts.run()])
    if failure is not None:
        raise failure


async def rotate_credentials(settings: Settings) -> list[str]:
    """Give each stored host of this agent a new credential; the running agent picks it up."""
    if not settings.agent.control_plane:
        raise ConfigError("--control-plane (or DOCKYARD_AGENT__CONTROL_PLANE) is required")
    names = _host_names(settings)
    state_dir = settings.agent.state_dir or settings.data_dir / "agent"
    control_plane = ControlPlane(settings.agent.control_plane)
    rotated = []
    try:
        for store in identity_stores(state_dir, names):
            try:
                rotated.append(await rotate(AgentClient(control_plane), store))
            except (HostRemoved, CredentialRefused, ControlPlaneUnavailable) as exc:
                raise ConfigError(f"cannot rotate the credential in {store.path}: {exc}") from None
    finally:
        await control_plane.close()
    return rotated
