"""Fixtures for driving the `dockyard` CLI against a real `dockyard serve`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from click.testing import CliRunner, Result

from dockyard.cli.main import main
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_status

GREETING_SCRIPT = "echo greeting=$GREETING; " + SLEEP_FOREVER[2]


@dataclass
class Dockyard:
    """Runs `dockyard …` in-process (CliRunner) against one server; remembers names to clean."""

    url: str
    api: httpx.Client
    names: list[str] = field(default_factory=list)

    def __call__(self, *args: str) -> Result:
        runner = CliRunner()
        env = {"DOCKYARD_URL": self.url, "DOCKYARD_FORMAT": None}
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    def name(self, prefix: str = "cli") -> str:
        """A unique container name, deleted at teardown."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.names.append(name)
        return name

    def run_sleeper(self, *options: str) -> str:
        """`dockyard run` a container that echoes $GREETING=hello and then sleeps; its name."""
        name = self.name()
        result = self(
            "run", "--name", name, "-e", "GREETING=hello", *options,
            "dockyard-test/busybox:1", "sh", "-c", GREETING_SCRIPT,
        )  # fmt: skip
        assert result.exit_code == 0, result.output + result.stderr
        return name

    def cleanup(self) -> None:
        for name in self.names:
            status = self.api.get(f"/v1/containers/{name}").json().get("status")
            if status == "Paused":
                self.api.post(f"/v1/containers/{name}/unpause")
                wait_status(self.api, name, "Running")
            self.api.delete(f"/v1/containers/{name}", params={"stop": "true", "force": "true"})


@pytest.fixture
def dockyard(server: DockyardProcess, api: httpx.Client) -> Iterator[Dockyard]:
    cli = Dockyard(server.url, api)
    yield cli
    cli.cleanup()
