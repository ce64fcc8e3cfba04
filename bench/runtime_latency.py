"""Start latency of a container in a sandbox against a plain `docker run -d`, interleaved.

    python -m bench.runtime_latency [--rounds 20]

Each round times, in a rotating order so that none gets a systematically warmer engine:
  sdk-run        docker SDK containers.run(detach=True) of the test image (`docker run -d`)
  api-bridge     DockerRuntime.create + start of a plain container (own network namespace)
  joined         DockerRuntime.create + start of a container joined to a running sandbox
  sandbox        DockerRuntime.create_sandbox (create + start of the infra container)
  claim+joined   claim_pooled of a warm pool sandbox, then create + start of a joined one
and, for what the engine does per start of a joined container, raw APIClient variants of
`joined`: seccomp unconfined, log driver none, PID namespace shared too.
Everything carries an io.dockyard.host label of its own and is removed after each round.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time
import uuid as uuids
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

import docker
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE, ensure_test_image

from dockyard.runtime.docker import DockerRuntime
from dockyard.runtime.labels import LABEL_HOST
from dockyard.runtime.specs import RunSpec, SandboxSpec

HOST = f"latency-{secrets.token_hex(3)}"


class Rig:
    """The runtime, a long-lived sandbox to join, and what each round made."""

    def __init__(self) -> None:
        self.runtime = DockerRuntime()
        self.client = docker.from_env()
        self.api = self.client.api
        self.sandbox = self.runtime.create_sandbox(SandboxSpec(uuid=_uuid(), host=HOST))

    def spec(self, **overrides: Any) -> RunSpec:
        base = RunSpec(uuid=_uuid(), host=HOST, image=TEST_IMAGE, command=SLEEP_FOREVER)
        return replace(base, **overrides)

    def sdk_run(self) -> None:
        self.client.containers.run(
            TEST_IMAGE, SLEEP_FOREVER, detach=True, labels={LABEL_HOST: HOST}
        )

    def api_bridge(self) -> None:
        self.runtime.start(self.runtime.create(self.spec()))

    def joined(self) -> None:
        self.runtime.start(self.runtime.create(self.spec(sandbox_engine_id=self.sandbox)))

    def new_sandbox(self) -> None:
        self.runtime.create_sandbox(SandboxSpec(uuid=_uuid(), host=HOST))

    def claim_and_join(self, pool_id: str) -> None:
        uuid = _uuid()
        self.runtime.claim_pooled(pool_id, uuid)
        spec = self.spec(sandbox_engine_id=pool_id, sandbox_uuid=uuid)
        self.runtime.start(self.runtime.create(spec))

    def raw_joined(self, **host_options: Any) -> None:
        owner = f"container:{self.sandbox}"
        host_config = self.api.create_host_config(
            network_mode=owner, ipc_mode=owner, **host_options
        )
        created = self.api.create_container(
            TEST_IMAGE, SLEEP_FOREVER, labels={LABEL_HOST: HOST}, host_config=host_config
        )
        self.api.start(created["Id"])

    def clean(self) -> None:
        for row in self.api.containers(all=True, filters={"label": f"{LABEL_HOST}={HOST}"}):
            if row["Id"] != self.sandbox:
                self.api.remove_container(row["Id"], force=True)


def _uuid() -> str:
    return str(uuids.uuid4())


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(rig: Rig, rounds: int) -> dict[str, list[float]]:
    owner = f"container:{rig.sandbox}"
    cases: dict[str, Callable[[], object]] = {
        "sdk-run": rig.sdk_run,
        "api-bridge": rig.api_bridge,
        "joined": rig.joined,
        "sandbox": rig.new_sandbox,
        "joined seccomp=unconfined": lambda: rig.raw_joined(security_opt=["seccomp=unconfined"]),
        "joined log=none": lambda: rig.raw_joined(log_config={"type": "none", "config": {}}),
        "joined +pid": lambda: rig.raw_joined(pid_mode=owner),
    }
    times: dict[str, list[float]] = {name: [] for name in [*cases, "claim+joined"]}
    names = list(cases)
    for round_ in range(rounds):
        pool_id = rig.runtime.create_sandbox(SandboxSpec(uuid=None, host=HOST, pool=True))
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(_timed(cases[name]))
        times["claim+joined"].append(_timed(partial(rig.claim_and_join, pool_id)))
        rig.clean()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    ensure_test_image()
    rig = Rig()
    try:
        rig.runtime.ensure_pause_image()
        measure(rig, 2)  # warm-up: caches, connection pools
        times = measure(rig, args.rounds)
    finally:
        rig.clean()
        rig.runtime.remove_sandbox(rig.sandbox)
    base = statistics.median(times["sdk-run"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<26} median {median * 1000:6.1f} ms  min {min(values) * 1000:6.1f}"
            f"  max {max(values) * 1000:6.1f}  ×{median / base:4.2f} of sdk-run"
        )


if __name__ == "__main__":
    main()
