"""Run `dockyard serve` as a real process for end-to-end tests and benchmarks."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
import httpx

from dockyard.agent.netplane.vxlan import KernelBackend
from tests.support.wait import dies_with_test, kill9, stop_process, wait_process_ready

LABEL_HOST = "io.dockyard.host"
V140 = {"OpenStack-API-Version": "container 1.40"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DockyardProcess:
    """One `dockyard serve` with its own data directory and port.

    `args` go to `dockyard serve` (e.g. `--auth tokens`); `token` is an admin's X-Auth-Token,
    which the readiness probe and client() send when the server needs authentication.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        args: Sequence[str] = (),
        token: str | None = None,
        **env: str,
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.token = token
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "serve.log"
        self.env = {
            **os.environ,
            "DOCKYARD_AGENT__RESYNC_INTERVAL": "5",
            "DOCKYARD_AGENT__HEARTBEAT_INTERVAL": "2",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.host_uuid: str | None = None

    def start(self, timeout: float = 60.0) -> DockyardProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        command = [
            sys.executable, "-m", "dockyard", "serve",
            "--port", str(self.port), "--data-dir", str(self.data_dir), *self.args,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
            preexec_fn=dies_with_test(),
        )  # fmt: skip
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        wait_process_ready(self.process, self._has_registered, "dockyard serve", self.log, timeout)

    def _has_registered(self) -> bool:
        """Ready once the agent has registered its host (then containers can be placed)."""
        headers = {**V140, **self.auth_headers()}
        hosts = httpx.get(f"{self.url}/v1/hosts", headers=headers, timeout=2).json()
        if not hosts.get("hosts"):
            return False
        self.host_uuid = hosts["hosts"][0]["uuid"]
        return True

    def auth_headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token} if self.token else {}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill9(self) -> None:
        kill9(self.process)

    def stop(self) -> None:
        stop_process(self.process)

    def remove_engine_objects(self) -> None:
        """Remove every engine container this instance's agent made (found by label), and
        once it has stopped, the kernel objects of its tenant networks."""
        if self.host_uuid:
            remove_engine_objects(self.host_uuid)
        if self.process is not None and self.process.poll() is not None:
            self.remove_kernel_objects()

    def remove_kernel_objects(self) -> None:
        """The nft tables, links and routing rules its agent's network backend made.

        A stopping agent leaves them (its containers may still run), so every finished test
        server left its tables behind; and every nft run of any later agent reads the whole
        ruleset, which had grown to hundreds of tables (≈30 ms per run instead of ≈5)."""
        if self.env.get("DOCKYARD_AGENT__RUNTIME") == "fake":
            return
        if self.env.get("DOCKYARD_AGENT__NETWORK_BACKEND") == "none":
            return
        state_dir = Path(self.env.get("DOCKYARD_AGENT__STATE_DIR") or self.data_dir / "agent")
        tag = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]  # as serve's
        backend = KernelBackend(owner=tag)
        try:
            backend.teardown()
        except RuntimeError as exc:  # left for a later run: never fail a test's clean-up
            print(f"removing the network objects of {self.url}: {exc}")
        finally:
            backend.close()

    def client(self, version: str = "1.40", **kwargs: Any) -> httpx.Client:
        headers = {"OpenStack-API-Version": f"container {version}", **self.auth_headers()}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)


def remove_engine_objects(host_uuid: str) -> None:
    """Remove every engine container the agent of host_uuid made (found by label)."""
    client = docker.from_env()
    try:
        for container in client.containers.list(
            all=True, filters={"label": f"{LABEL_HOST}={host_uuid}"}
        ):
            container.remove(force=True)
    finally:
        client.close()
