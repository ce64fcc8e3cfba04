"""`dockyard api` replicas and `dockyard agent`s as real processes (many-host tests, benches)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import V140, free_port
from tests.support.wait import wait_process_ready


class _Process:
    """A dockyard subcommand with its own log file; stop() is safe to call twice."""

    what = "dockyard"

    def __init__(self, log_path: Path, command: Sequence[str], env: dict[str, str]) -> None:
        self.log_path = log_path
        self.command = [sys.executable, "-m", "dockyard", *command]
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        """Start the process without waiting for it (several may start at once)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        wait_process_ready(self.process, self.is_ready, self.what, self.log, timeout)

    def is_ready(self) -> bool:
        raise NotImplementedError

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class ApiReplica(_Process):
    """One `dockyard api` on a shared database (no auth; agents present agent_token)."""

    what = "dockyard api"

    def __init__(self, data_dir: Path, database_url: str, agent_token: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            data_dir / f"api-{self.port}.log",
            ["api", "--port", str(self.port), "--data-dir", str(data_dir),
             "--database-url", database_url],
            {"DOCKYARD_AGENT__AGENT_TOKEN": agent_token, **env},
        )  # fmt: skip

    def is_ready(self) -> bool:
        return httpx.get(f"{self.url}/v1", timeout=2).status_code == 200

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=V140, timeout=60, **kwargs)


class AgentProcess(_Process):
    """One `dockyard agent` on the local engine, registered under its own hostname."""

    what = "dockyard agent"

    def __init__(self, data_dir: Path, control_plane: str, agent_token: str, hostname: str) -> None:
        self.hostname = hostname
        self.control_plane = control_plane
        self.host_uuid: str | None = None
        super().__init__(
            data_dir / f"agent-{hostname}.log",
            ["agent", "--control-plane", control_plane],
            {
                "DOCKYARD_AGENT__AGENT_TOKEN": agent_token,
                "DOCKYARD_AGENT__HOSTNAME": hostname,
                "DOCKYARD_AGENT__HEARTBEAT_INTERVAL": "2",
                "DOCKYARD_AGENT__RESYNC_INTERVAL": "5",
            },
        )

    def is_ready(self) -> bool:
        """Registered: its host is listed by the control plane."""
        hosts = httpx.get(f"{self.control_plane}/v1/hosts", headers=V140, timeout=2).json()
        for host in hosts.get("hosts", []):
            if host["hostname"] == self.hostname:
                self.host_uuid = str(host["uuid"])
                return True
        return False
