"""`dockyard serve` with timestamps on the create path, and optionally under cProfile.

    python -m bench.traced_serve --trace FILE [--profile FILE] -- serve --port … --data-dir …

Used by bench/create_cpu.py (`--phases`, `--profile`); not part of the product. Each wrapped
call appends (phase, key, start, end) to the trace, key being the container (or sandbox)
uuid the call is about where it has one. Times are CLOCK_MONOTONIC, the same clock the
benchmark's own process reads, so they line up with the client's POST and GET times.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import inspect
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

Event = tuple[str, list[str], float, float]
_events: list[Event] = []
_lock = threading.Lock()
KeyOf = Callable[[tuple[Any, ...], Any], list[str]]


def _record(phase: str, keys: list[str], start: float) -> None:
    with _lock:
        _events.append((phase, keys, start, time.monotonic()))


def _keys(key_of: KeyOf | None, args: tuple[Any, ...], result: Any) -> list[str]:
    if key_of is None:
        return []
    try:
        return [str(k) for k in key_of(args, result)]
    except Exception:  # a failed call (no result) or an odd argument: keep the timing
        return []


def trace(owner: Any, name: str, phase: str, key_of: KeyOf | None = None) -> None:
    """Wrap owner.name (a sync or async function) to record its calls as `phase`; a name
    that no longer exists (code moved) is left out with a note, not a failed start."""
    original = getattr(owner, name, None)
    if original is None:
        print(f"traced_serve: {owner.__name__}.{name} is gone; phase {phase!r} not traced",
              file=sys.stderr)  # fmt: skip
        return
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            start, result = time.monotonic(), None
            try:
                result = await original(*args, **kwargs)
                return result
            finally:
                _record(phase, _keys(key_of, args, result), start)

        setattr(owner, name, wrapped_async)
        return

    @functools.wraps(original)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        start, result = time.monotonic(), None
        try:
            result = original(*args, **kwargs)
            return result
        finally:
            _record(phase, _keys(key_of, args, result), start)

    setattr(owner, name, wrapped)


def install() -> None:
    """The phases of a create, from the API handler to the report of its status."""
    from dockyard.agent import converge, observed, reports, sandboxes, steps
    from dockyard.agent.netplane import keeper, vxlan
    from dockyard.client import agent as agent_client
    from dockyard.runtime import docker, docker_sandbox
    from dockyard.services import batchscheduler, containers, hosts

    uuid_arg: KeyOf = lambda a, _r: [a[1]]  # noqa: E731 - (self, uuid, …)
    desired_arg: KeyOf = lambda a, _r: [a[1].uuid]  # noqa: E731 - (self, desired, …)
    trace(containers.ContainerService, "create", "api.create (txn)", lambda _a, r: [r.uuid])
    trace(batchscheduler.Scheduler, "_batch", "scheduler.batch (txn)")
    trace(batchscheduler.Scheduler, "place_now", "api.create: place (in txn)",
          lambda a, _r: [a[2].uuid])  # fmt: skip
    trace(hosts.HostService, "_changes", "watch.changes",
          lambda _a, r: [c.uuid for c in r.containers] + [s.uuid for s in r.sandboxes])  # fmt: skip
    trace(hosts, "sync_host_networks", "watch.changes: host networks")
    batch_keys: KeyOf = lambda _a, r: [c.uuid for c in r.containers]  # noqa: E731
    trace(hosts.HostService, "assignments", "api.long-poll (wake to batch)", batch_keys)
    trace(agent_client.AgentClient, "assignments", "agent.long-poll (to batch taken)", batch_keys)
    reported: KeyOf = lambda a, _r: [r.uuid for r in a[2].reports + a[2].sandboxes]  # noqa: E731
    trace(hosts.HostService, "apply_reports", "api.apply_reports (txn)", reported)
    trace(converge.Converger, "converge", "agent.converge", uuid_arg)
    trace(steps.EngineSteps, "create_started", "agent.create_started", desired_arg)
    trace(steps.EngineSteps, "_create", "agent.create", desired_arg)
    trace(steps.EngineSteps, "do", "agent.step", desired_arg)
    trace(steps.EngineSteps, "plug", "agent.plug (standalone)", desired_arg)
    trace(steps.EngineSteps, "_plug_sandbox", "agent.plug (sandbox)", desired_arg)
    trace(observed.EngineView, "refresh", "agent.refresh (inspect)", uuid_arg)
    trace(reports.Reporter, "send", "agent.report",
          lambda a, _r: [r.uuid for r in a[1]] + [s.uuid for s in (a[2] if len(a) > 2 else [])
                                                  or []])  # fmt: skip
    trace(sandboxes.SandboxKeeper, "reserve", "agent.sandbox reserve", lambda a, _r: [a[1].uuid])
    trace(sandboxes.SandboxKeeper, "_make_one", "agent.pool make one")
    trace(keeper.NetworkKeeper, "plug", "netplane.plug", uuid_arg)
    trace(keeper.NetworkKeeper, "sync", "netplane.sync (apply)")
    trace(vxlan.KernelBackend, "apply", "kernel.apply")
    trace(vxlan.KernelBackend, "_prepare_host", "kernel.apply: host set-up")
    trace(vxlan.KernelBackend, "_ensure_network", "kernel.apply: a network's devices")
    trace(vxlan.KernelBackend, "_remove_network", "kernel.apply: a network removed")
    trace(vxlan.KernelBackend, "_sync_rules", "kernel: nft rules")
    trace(vxlan.KernelBackend, "_sync_routing", "kernel.apply: routing")
    trace(vxlan.KernelBackend, "connect", "kernel.connect")
    trace(vxlan.KernelBackend, "disconnect", "kernel.disconnect")
    trace(vxlan.KernelBackend, "configure_resolver", "kernel.resolver")
    trace(docker.DockerRuntime, "create", "engine.create", lambda a, _r: [a[1].uuid])
    trace(docker.DockerRuntime, "start", "engine.start")
    trace(docker.DockerRuntime, "find_container", "engine.find_container", uuid_arg)
    trace(docker.DockerRuntime, "list_containers", "engine.list")
    trace(docker.DockerRuntime, "remove", "engine.remove")
    trace(docker_sandbox.DockerSandboxes, "netns_pid", "engine.netns_pid (inspect)")
    trace(docker_sandbox.DockerSandboxes, "create_sandbox", "engine.create_sandbox")
    trace(docker_sandbox.DockerSandboxes, "find_sandbox", "engine.find_sandbox")
    _count_commits()


def _count_commits() -> None:
    """Every COMMIT the control plane's SQLite connections run (one per write transaction)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "commit")
    def _commit(_conn: Any) -> None:
        now = time.monotonic()
        with _lock:
            _events.append(("db.commit", [], now, now))


def trace_slow_callbacks(threshold: float) -> None:
    """Record each loop callback that runs longer than threshold seconds as a phase
    "loop: <what ran>": what holds the loop between two traced phases."""
    import asyncio.events

    handle_run = asyncio.events.Handle._run

    def name_of(handle: asyncio.events.Handle) -> str:
        callback = getattr(handle, "_callback", None)
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):
            coro = owner.get_coro()
            return getattr(coro, "__qualname__", repr(coro))
        return getattr(callback, "__qualname__", repr(callback))

    def timed(handle: asyncio.events.Handle) -> None:
        start = time.monotonic()
        handle_run(handle)
        if time.monotonic() - start > threshold:
            _record(f"loop: {name_of(handle)}", [], start)

    asyncio.events.Handle._run = timed  # type: ignore[method-assign,assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trace", required=True)
    parser.add_argument("--profile", default=None)
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    install()
    if os.environ.get("TRACED_SLOW_MS"):  # e.g. 3: callbacks holding the loop over 3 ms
        trace_slow_callbacks(float(os.environ["TRACED_SLOW_MS"]) / 1000)
    from dockyard.cli.main import main as dockyard

    rest = args.rest[1:] if args.rest[:1] == ["--"] else args.rest
    # The loop thread's CPU time, not wall time: the SQLite writer's and the engine
    # clients' threads took the GIL in between, and wall time charged their share to
    # whatever the loop was doing then (a queue put, a socket send).
    profiler = cProfile.Profile(time.thread_time) if args.profile else None
    if profiler is not None:
        profiler.enable()
    try:
        dockyard(rest)
    except SystemExit:
        pass
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        with open(args.trace, "w") as out:
            json.dump(_events, out)


if __name__ == "__main__":
    main()
