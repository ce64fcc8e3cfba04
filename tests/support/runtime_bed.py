"""A ContainerRuntime under test (docker or fake) with per-test host labels and cleanup."""

from __future__ import annotations

import secrets
import time
import uuid as uuids
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.runtime.base import ContainerRuntime, remove_host_objects
from dockyard.runtime.docker import DockerRuntime
from dockyard.runtime.specs import RunSpec, SandboxSpec
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE

RUN = secrets.token_hex(4)  # every engine object of this test run carries it in its host label
FAKE_REGISTRY = "registry.invalid:5000"


@dataclass
class Bed:
    """A runtime under test, the hosts a test labelled objects with, and refs to pull."""

    runtime: ContainerRuntime
    kind: str
    hosts: list[str] = field(default_factory=list)

    def new_host(self) -> str:
        host = f"test-{RUN}-{secrets.token_hex(3)}"
        self.hosts.append(host)
        return host

    @property
    def host(self) -> str:
        return self.hosts[0] if self.hosts else self.new_host()

    def spec(self, command: list[str] | None = None, **overrides: Any) -> RunSpec:
        base = RunSpec(uuid=str(uuids.uuid4()), host=self.host, image=TEST_IMAGE, command=command)
        return replace(base, **overrides)

    def run(self, command: list[str] | None, **overrides: Any) -> str:
        engine_id = self.runtime.create(self.spec(command, **overrides))
        self.runtime.start(engine_id)
        return engine_id

    def sandbox(self, **overrides: Any) -> str:
        """A running sandbox for a new uuid on this bed's host."""
        spec = SandboxSpec(uuid=str(uuids.uuid4()), host=self.host)
        return self.runtime.create_sandbox(replace(spec, **overrides))

    def join(self, sandbox_id: str, command: list[str] = SLEEP_FOREVER, **overrides: Any) -> str:
        """A running container joined to the sandbox."""
        return self.run(command, sandbox_engine_id=sandbox_id, **overrides)

    def cleanup(self) -> None:
        for host in self.hosts:
            remove_host_objects(self.runtime, host)


@contextmanager
def docker_host(tag: str) -> Iterator[tuple[DockerRuntime, str]]:
    """The real engine's runtime and a host label of the caller's own (`tag` says whose); every
    object made under that label is removed at the end, whatever the test did."""
    engine = DockerRuntime()
    host = f"test-{RUN}-{tag}-{uuids.uuid4().hex[:6]}"
    try:
        yield engine, host
    finally:
        remove_host_objects(engine, host)


def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def wait_for_state(runtime: ContainerRuntime, engine_id: str, state: str) -> None:
    wait_for(lambda: runtime.inspect(engine_id).state == state)
