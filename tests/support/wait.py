"""Polling helpers for tests that watch asynchronous state converge."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll until predicate() is truthy; return its value or fail with `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what or predicate} (last: {last!r})")


def wait_status(
    api: httpx.Client, ident: str, status: str, timeout: float = 30.0
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(f"/v1/containers/{ident}").json()
        return body if body.get("status") == status else None

    result: dict[str, Any] = wait_for(check, timeout, what=f"{ident} to be {status}")
    return result


def wait_gone(api: httpx.Client, ident: str, timeout: float = 30.0) -> None:
    wait_for(
        lambda: api.get(f"/v1/containers/{ident}").status_code == 404,
        timeout,
        what=f"{ident} to be deleted",
    )


def wait_process_ready(
    process: subprocess.Popen[bytes],
    probe: Callable[[], bool],
    what: str,
    log: Callable[[], str],
    timeout: float,
) -> None:
    """Until probe() is true: fail at once if the process exits, or after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log()}")
        with contextlib.suppress(httpx.HTTPError):
            if probe():
                return
        time.sleep(0.1)
    # A process that missed its start-up must not outlive the test as an orphan that keeps
    # heartbeating and warming sandboxes on the shared engine.
    stop_process(process)
    raise RuntimeError(f"{what} did not become ready in {timeout} s:\n{log()}")


_PR_SET_PDEATHSIG = 1


def _term_when_parent_dies() -> None:
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def dies_with_test() -> Callable[[], None] | None:
    """A Popen preexec_fn: the child gets SIGTERM when the test process dies (killed by a
    timeout, say) instead of living on as an orphan. Only from the main thread: the kernel
    ties the signal to the thread that forked, and a worker thread's exit would kill it."""
    is_main = threading.current_thread() is threading.main_thread()
    return _term_when_parent_dies if is_main else None


def stop_process(process: subprocess.Popen[bytes] | None, grace: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `grace` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def kill9(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL, as a crash would, and reap it."""
    assert process is not None
    process.kill()
    process.wait(10)
