"""`dockyard api` and `dockyard agent` as separate real processes, for many-host tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.support.server import V140, free_port
from tests.support.wait import dies_with_test, kill9, stop_process, wait_process_ready

JOIN_TOKEN = "test-join-token-0123456789abcdef"


class Part:
    """One `python -m dockyard <command> …` process with its log file."""

    def __init__(self, log_path: Path, command: Sequence[str], **env: str) -> None:
        self.log_path = log_path
        self.command = [sys.executable, "-m", "dockyard", *command]
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
            preexec_fn=dies_with_test(),
        )  # fmt: skip
        return self.process

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def wait(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def kill9(self) -> None:
        kill9(self.process)

    def stop(self) -> None:
        stop_process(self.process)


class ApiPart(Part):
    """`dockyard api` on a free port against database_url, with the test join token."""

    def __init__(self, workdir: Path, database_url: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            workdir / f"api-{self.port}.log",
            ["api", "--port", str(self.port), "--data-dir", str(workdir), "--join-token",
             JOIN_TOKEN],
            DOCKYARD_DATABASE__URL=database_url,
            **env,
        )  # fmt: skip

    def start(self, timeout: float = 60.0) -> ApiPart:
        self.spawn()
        return self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60.0) -> ApiPart:
        """Until it answers (several replicas may be spawned first and awaited after)."""
        assert self.process is not None

        def answers() -> bool:
            return httpx.get(f"{self.url}/v1", timeout=2).status_code == 200

        wait_process_ready(self.process, answers, "dockyard api", self.log, timeout)
        return self

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=V140, timeout=30)


def agent_part(
    workdir: Path, urls: Sequence[str], *args: str, join_token: str = JOIN_TOKEN, **env: str
) -> Part:
    """`dockyard agent` (fake runtime unless args say otherwise) with fast heartbeats."""
    command = ["agent", *(f"--control-plane={u}" for u in urls), "--join-token", join_token]
    env = {
        "DOCKYARD_AGENT__HEARTBEAT_INTERVAL": "0.5", "DOCKYARD_AGENT__RESYNC_INTERVAL": "5",
        "DOCKYARD_AGENT__WATCH_TIMEOUT": "5", "DOCKYARD_AGENT__POOL_SIZE": "0", **env,
    }  # fmt: skip
    return Part(workdir / f"agent-{free_port()}.log", [*command, *args], **env)
