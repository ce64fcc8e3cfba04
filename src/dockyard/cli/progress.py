"""A pull's progress for people: a bar redrawn in place on a terminal, plain lines elsewhere
(a log or a pipe gets a line per quarter and per change of state, never a carriage return)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from dockyard.client.containers import ClientError, ContainersClient

PULL_TIMEOUT = 1800.0
WIDTH = 30
MB = 1_000_000
POLL = 0.2  # seconds between looks at the image record


class PullDisplay:
    """Shows one image's pull onto one host: update() per look, end() once settled."""

    def __init__(self, label: str, out: TextIO, tty: bool, tell_failure: bool = True) -> None:
        self.label, self.out, self.tty = label, out, tty
        self.tell_failure = tell_failure  # False: the caller says why (run's container error)
        self._shown_quarter = -1
        self._drawn = False

    def update(self, current: int, total: int) -> None:
        if self.tty:
            self.out.write("\r" + bar(self.label, current, total))
            self._drawn = True
        elif total > 0:
            quarter = min(4, current * 4 // total)
            if quarter > self._shown_quarter:
                self._shown_quarter = quarter
                self.out.write(f"{self.label}: {_amount(current, total)}\n")
        elif self._shown_quarter < 0:
            self._shown_quarter = 0
            self.out.write(f"{self.label}: pulling\n")
        self.out.flush()

    def end(self, text: str, failed: bool = False) -> None:
        if self.tty and self._drawn:
            self.out.write("\r\033[K")  # clear the bar's line, then the outcome in its place
        if not failed or self.tell_failure:
            self.out.write(f"{self.label}: {text}\n")
        self.out.flush()


def bar(label: str, current: int, total: int) -> str:
    """`label [=====>      ]  42%  12.3/29.1 MB` (a spinner-free bar when total is unknown)."""
    if total <= 0:
        return f"{label} [{'.' * WIDTH}] pulling"
    done = min(WIDTH, current * WIDTH // total)
    head = ">" if done < WIDTH else ""
    filled = ("=" * done + head).ljust(WIDTH)[:WIDTH]
    return f"{label} [{filled}] {current * 100 // total:3d}%  {_amount(current, total)}"


def _amount(current: int, total: int) -> str:
    return f"{current / MB:.1f}/{total / MB:.1f} MB"


def follow(
    get: Callable[[], dict[str, Any]], display: PullDisplay, timeout: float
) -> dict[str, Any]:
    """Look at the image record until its pull settles (or timeout); show each look."""
    deadline = time.monotonic() + timeout
    while True:
        image = get()
        progress = image.get("progress") or {}
        if image.get("status") != "Pulling" or time.monotonic() > deadline:
            if image.get("status") == "Pulled":
                display.update(int(progress.get("total") or 0), int(progress.get("total") or 0))
                display.end(f"pulled, {int(image.get('size') or 0) / MB:.1f} MB")
            else:
                reason = image.get("status_reason") or image.get("status")
                display.end(f"failed: {reason}", failed=True)
            return image
        display.update(int(progress.get("current") or 0), int(progress.get("total") or 0))
        time.sleep(POLL)


def pull_onto(
    api: ContainersClient, image: str, host: str, label: str, out: TextIO | None = None
) -> dict[str, Any]:
    """Pull image onto host, showing its progress on out (stdout); the settled record.

    On stderr (run) a failure is left to the container's error, which says why."""
    out = out or sys.stdout
    accepted = api.pull_image(image, host)
    display = PullDisplay(label, out, out.isatty(), tell_failure=out is not sys.stderr)
    return follow(lambda: api.get_image(accepted["uuid"]), display, PULL_TIMEOUT)


def show_run_pull(api: ContainersClient, container: dict[str, Any], timeout: float) -> None:
    """While a new container's host pulls its image, show that pull.

    The agent pulls for the container; asking /v1/images for the same image on the same
    host joins that pull in the engine, so its record carries the bytes for the bar. Only
    administrators may (Zun's policy): others see one line that the image is being pulled.
    On stderr, as docker run does: stdout keeps only the container (or its JSON).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = api.get(container["uuid"])
        if now.get("status") != "Creating":
            return
        if now.get("task_state") == "image_pulling":
            image = str(now.get("image"))
            if now.get("host"):
                try:
                    pull_onto(api, image, str(now["host"]), image, sys.stderr)
                    return
                except ClientError:
                    pass  # not an administrator after all: the plain line below
            sys.stderr.write(f"{image}: pulling onto the container's host\n")
            sys.stderr.flush()
            return
        time.sleep(POLL)
