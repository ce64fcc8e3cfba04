"""A many-host Dockyard on one machine: 3 Docker engines, 3 agents, 2 API replicas, PostgreSQL.

Each host is a network namespace with its own address on a bridge, its own `dockerd` (own
data root, exec root, pidfile and socket; started with `nsenter --net`, since `ip netns exec`
remounts /sys and dockerd then dies) and its own `dockyard agent`, whose host API listens on
the namespace's address. The API replicas listen on the bridge's address, share one fresh
PostgreSQL database and know nothing of each other. See ../shared/reference/testbed.md, B.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support import netbed
from tests.support.database import database_exists, fresh_postgres
from tests.support.testimage import ensure_test_image
from tests.support.wait import wait_process_ready

V140 = {"OpenStack-API-Version": "container 1.40"}
API_PORT = 9517
HOST_API_PORT = 9518


def stop_process(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def agent_command(bed: Bed, name: str, state_dir: Path, *extra: str) -> list[str]:
    """`dockyard agent` against every replica, joining with the bed's token."""
    urls = [arg for replica in bed.apis for arg in ("--control-plane", replica.url)]
    return [
        sys.executable, "-m", "dockyard", "agent", *urls, "--join-token", bed.token,
        "--name", name, "--state-dir", str(state_dir), *extra,
    ]  # fmt: skip


def _stop_all(processes: list[subprocess.Popen[bytes] | None]) -> None:
    """SIGTERM to all at once, then wait for each (they shut down in parallel)."""
    running = [p for p in processes if p is not None and p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        stop_process(process)


def spawn_process(
    argv: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )  # fmt: skip


@dataclass
class Host:
    """One machine of the bed: a namespace with an engine and (when started) an agent."""

    index: int
    suffix: str
    root: Path
    address: str  # the namespace's own IP on the bridge
    availability_zone: str = "nova"
    labels: dict[str, str] = field(default_factory=dict)
    dockerd: subprocess.Popen[bytes] | None = None
    agent: subprocess.Popen[bytes] | None = None
    state_dir: Path | None = None  # the agent's identity; a new one after the host's removal

    @property
    def netns(self) -> str:
        return f"dyh{self.suffix}{self.index}"

    @property
    def veth(self) -> str:
        return f"dyv{self.suffix}{self.index}"

    @property
    def name(self) -> str:
        """The hostname its agent registers (the machine's own hostname is the same for all)."""
        return f"bed-{self.suffix}-{self.index}"

    @property
    def dir(self) -> Path:
        return self.root / f"h{self.index}"

    @property
    def docker_url(self) -> str:
        return f"unix://{self.dir}/docker.sock"

    # --- the engine ----------------------------------------------------------------------

    def start_engine(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        argv = [
            "nsenter", f"--net={netbed.NETNS_DIR / self.netns}", "dockerd",
            "--host", self.docker_url, "--data-root", str(self.dir / "data"),
            "--exec-root", str(self.dir / "x"), "--pidfile", str(self.dir / "docker.pid"),
            # Containers outlive an engine restart, as Zun's docs advise operators.
            "--live-restore", "--log-level", "warn",
        ]  # fmt: skip
        self.dockerd = spawn_process(argv, self.dir / "dockerd.log")
        wait_process_ready(self.dockerd, self._engine_answers, "dockerd", self._engine_log, 30)

    def _engine_answers(self) -> bool:
        transport = httpx.HTTPTransport(uds=str(self.dir / "docker.sock"))
        with httpx.Client(transport=transport, timeout=2) as client:
            return client.get("http://engine/_ping").text == "OK"

    def _engine_log(self) -> str:
        return (self.dir / "dockerd.log").read_text(errors="replace")[-3000:]

    def stop_engine(self) -> None:
        stop_process(self.dockerd)

    def engine_client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.docker_url, timeout=60)

    def remove_containers_of(self, host_uuid: str) -> None:
        """The operator's clean-up after a removal: this engine's containers labelled with a
        former host identity (nobody's now: not adopted, not shown) go."""
        client = self.engine_client()
        try:
            old = {"label": f"io.dockyard.host={host_uuid}"}
            for left in client.containers.list(all=True, filters=old):
                left.remove(force=True)
        finally:
            client.close()

    def remove_engine_objects(self) -> None:
        """Every container in this private engine goes (live-restore keeps them otherwise)."""
        if self.dockerd is None or self.dockerd.poll() is not None:
            return
        client = self.engine_client()
        try:
            for container in client.containers.list(all=True):
                container.remove(force=True)
        finally:
            client.close()

    def kill_containerd(self) -> None:
        """The engine's own containerd and shims survive a live-restore shutdown: end them."""
        pidfile = self.dir / "x" / "containerd" / "containerd.pid"
        procs = netbed.run("ps", "-eo", "pid=,args=").stdout
        for line in procs.splitlines():
            pid, _, args = line.strip().partition(" ")
            if str(self.dir) in args:
                os.kill(int(pid), signal.SIGKILL)
        pidfile.unlink(missing_ok=True)

    # --- the agent -----------------------------------------------------------------------

    def start_agent(
        self, bed: Bed, *, name: str | None = None, state_dir: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `dockyard agent` inside the namespace; returns once the process runs.

        A state_dir given once is kept for later starts (a removed host joins anew with one).
        """
        self.state_dir = state_dir or self.state_dir or self.dir / "state"
        argv = [
            "nsenter", f"--net={netbed.NETNS_DIR / self.netns}",
            *agent_command(bed, name or self.name, self.state_dir),
            "--docker-url", self.docker_url, "--availability-zone", self.availability_zone,
            "--hostapi-host", self.address,
            *[f"--label={k}={v}" for k, v in self.labels.items()],
        ]  # fmt: skip
        env = {
            **bed.process_env(),
            "DOCKYARD_AGENT__HOSTAPI_PORT": str(HOST_API_PORT),
            "DOCKYARD_DATA_DIR": str(self.dir / "agent"),
        }
        self.agent = spawn_process(argv, self.dir / "agent.log", env)
        return self.agent

    def stop_agent(self, sig: int = signal.SIGTERM) -> None:
        stop_process(self.agent, sig)

    def agent_log(self) -> str:
        return (self.dir / "agent.log").read_text(errors="replace")[-3000:]


@dataclass
class Replica:
    """One `dockyard api` process, listening on the bridge's address."""

    index: int
    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def client(self, version: str = "1.40", **kwargs: Any) -> httpx.Client:
        headers = {"OpenStack-API-Version": f"container {version}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


class Bed:
    """The whole many-host set-up; start() builds it, close() removes every trace of it."""

    def __init__(
        self,
        root_parent: Path,
        hosts: int = 3,
        replicas: int = 2,
        zones: tuple[str, ...] = ("nova",),
        labels: tuple[dict[str, str], ...] = ({},),
    ) -> None:
        self.suffix = secrets.token_hex(3)
        # Short on purpose: engine sockets live below it and unix paths end at 108 bytes.
        self.root = root_parent / f"dyb{self.suffix}"
        self.bridge = f"dyb{self.suffix}"
        self.subnet = netbed.free_subnet()
        gateway = str(self.subnet.network_address + 1)
        self.gateway = gateway
        self.token = secrets.token_urlsafe(24)
        self.hosts = [
            Host(
                i,
                self.suffix,
                self.root,
                str(self.subnet.network_address + 11 + i),
                availability_zone=zones[i % len(zones)],
                labels=dict(labels[i % len(labels)]),
            )
            for i in range(hosts)
        ]
        self.apis = [
            Replica(i, f"http://{gateway}:{API_PORT + 100 + i}", self.root / f"api{i}.log")
            for i in range(replicas)
        ]
        self.database_url = ""
        self._stack = ExitStack()
        self.started_in = 0.0

    def common_env(self) -> dict[str, str]:
        """What every process of the bed is configured with (quick heartbeats, small pools)."""
        return {
            "DOCKYARD_DATABASE__URL": self.database_url,
            "DOCKYARD_AGENT__JOIN_TOKEN": self.token,
            "DOCKYARD_AGENT__HEARTBEAT_INTERVAL": "0.5",
            "DOCKYARD_AGENT__RESYNC_INTERVAL": "5",
            "DOCKYARD_AGENT__WATCH_TIMEOUT": "5",
            "DOCKYARD_SCHEDULER__HOST_DOWN_AFTER": "3",
            # 2 CPUs per host here: a ratio of 2 makes room for 4, so limits can be reached.
            "DOCKYARD_SCHEDULER__CPU_ALLOCATION_RATIO": "2",
            "DOCKYARD_SCHEDULER__RETRY_INTERVAL": "0.5",
            "DOCKYARD_LOG_LEVEL": "info",
            # The bed tests hosts' limits, not a project's.
            "DOCKYARD_QUOTA__CPU": "-1",
            "DOCKYARD_QUOTA__MEMORY": "-1",
            "DOCKYARD_QUOTA__CONTAINERS": "-1",
        }

    # --- building --------------------------------------------------------------------------

    def start(self) -> Bed:
        began = time.monotonic()
        try:
            self.root.mkdir(parents=True)
            netbed.add_bridge(self.bridge, f"{self.gateway}/{self.subnet.prefixlen}")
            for host in self.hosts:
                netbed.add_namespace(
                    host.netns, host.veth, self.bridge, f"{host.address}/{self.subnet.prefixlen}"
                )
            self.database_url = self._stack.enter_context(fresh_postgres())
            # Everything that can overlap does: the first replica imports and migrates while
            # the engines start; each agent starts as soon as its engine answers (it retries
            # registration until a replica listens).
            self.spawn_api(self.apis[0])
            with ThreadPoolExecutor(len(self.hosts)) as pool:
                engines = [pool.submit(self._start_host, h) for h in self.hosts]
                self.wait_api(self.apis[0])
                for replica in self.apis[1:]:  # after the first has migrated the database
                    self.spawn_api(replica)
                for started in engines:
                    started.result()
            for replica in self.apis[1:]:
                self.wait_api(replica)
            self.wait_hosts_up(len(self.hosts))
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _start_host(self, host: Host) -> None:
        host.start_engine()
        host.start_agent(self)
        ensure_test_image(host.docker_url)

    def start_api(self, replica: Replica) -> None:
        self.spawn_api(replica)
        self.wait_api(replica)

    def spawn_api(self, replica: Replica) -> None:
        port = replica.url.rsplit(":", 1)[1]
        argv = [sys.executable, "-m", "dockyard", "api", "--host", self.gateway, "--port", port]
        env = {**self.process_env(), "DOCKYARD_DATA_DIR": str(self.root / f"api{replica.index}")}
        replica.process = spawn_process(argv, replica.log, env)

    def wait_api(self, replica: Replica) -> None:
        assert replica.process is not None

        def answers() -> bool:
            with replica.client() as api:
                return api.get("/v1/hosts").status_code == 200

        wait_process_ready(
            replica.process, answers, f"api {replica.index}", lambda: _tail(replica.log), 60
        )

    def wait_hosts_up(self, count: int, timeout: float = 60.0) -> list[str]:
        """Wait until `count` of the bed's hosts heartbeat; return their names."""
        deadline = time.monotonic() + timeout
        names: list[str] = []
        while time.monotonic() < deadline:
            names = self.hosts_up()
            if len(names) >= count:
                return names
            for host in self.hosts:
                if host.agent is not None and host.agent.poll() is not None:
                    raise RuntimeError(f"agent {host.name} exited:\n{host.agent_log()}")
            time.sleep(0.1)
        raise RuntimeError(f"only {names} of {count} hosts came up")

    def hosts_up(self) -> list[str]:
        """Hostnames whose last heartbeat is recent, read from the shared database itself
        (Zun's host list has no state; its service list may not exist yet)."""
        window = float(self.common_env()["DOCKYARD_SCHEDULER__HOST_DOWN_AFTER"])
        rows = self._query(
            "SELECT hostname FROM hosts"
            " WHERE last_heartbeat_at > now() - make_interval(secs => :s)",
            s=window,
        )
        return sorted(str(row[0]) for row in rows)

    def process_env(self) -> dict[str, str]:
        return {**os.environ, **self.common_env()}

    def _query(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(make_url(self.database_url).set(drivername="postgresql+psycopg"))
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        finally:
            engine.dispose()

    def cpu_observed(self) -> dict[str, float | None]:
        """Hostname → the CPUs its containers used lately, as its agent last reported."""
        rows = self._query("SELECT hostname, cpu_observed FROM hosts")
        return {str(row[0]): row[1] for row in rows}

    def list_hosts(self) -> list[dict[str, Any]]:
        with self.apis[0].client() as api:
            hosts: list[dict[str, Any]] = api.get("/v1/hosts").json()["hosts"]
        return hosts

    def host_uuid(self, host: Host) -> str:
        """The uuid of the host registered under host's name that heartbeat last."""
        rows = self._query(
            "SELECT uuid FROM hosts WHERE hostname = :name ORDER BY last_heartbeat_at DESC",
            name=host.name,
        )
        if not rows:
            raise LookupError(host.name)
        return str(rows[0][0])

    # --- removing --------------------------------------------------------------------------

    def close(self) -> None:
        """Remove everything the bed made; safe after a partial start and when called twice."""
        processes = [h.agent for h in self.hosts] + [r.process for r in self.apis]
        _stop_all(processes)
        with ThreadPoolExecutor(max(len(self.hosts), 1)) as pool:
            list(pool.map(Host.remove_engine_objects, self.hosts))
        _stop_all([h.dockerd for h in self.hosts])
        for host in self.hosts:
            host.kill_containerd()
        self._stack.close()  # the database
        for host in self.hosts:
            netbed.remove_namespace(host.netns, host.veth)
        netbed.remove_bridge(self.bridge)
        netbed.unmount_under(self.root)
        shutil.rmtree(self.root, ignore_errors=True)

    def leftovers(self) -> list[str]:
        found = netbed.leftovers(self.suffix, self.root)
        processes = [h.dockerd for h in self.hosts] + [h.agent for h in self.hosts]
        processes += [r.process for r in self.apis]
        found += [f"process {p.args!r}" for p in processes if p is not None and p.poll() is None]
        if self.database_url and database_exists(self.database_url):
            found.append(f"database {make_url(self.database_url).database}")
        return found


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
