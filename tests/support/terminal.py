"""Drive a real command through a pseudo-terminal, as a person at a terminal would.

The child gets the pty as its controlling terminal (so it gets SIGWINCH on resize and can
put it in raw mode); the test reads what it prints, types, and resizes the window.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _take_terminal() -> None:  # runs in the child, after setsid: the pty becomes its terminal
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """One command on its own pty; `seen` keeps everything it printed."""

    def __init__(
        self, argv: Sequence[str], env: dict[str, str], rows: int = 30, cols: int = 100
    ) -> None:
        self.master, slave = os.openpty()
        _set_size(slave, rows, cols)
        self.process = subprocess.Popen(
            list(argv), stdin=slave, stdout=slave, stderr=slave, env=env,
            start_new_session=True, preexec_fn=_take_terminal, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.seen = b""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed its side of the pty
            return False
        self.seen += chunk
        return bool(chunk)

    def expect(self, pattern: str, timeout: float = 60.0, start: int = 0) -> re.Match[bytes]:
        """Wait until what was printed since `start` matches pattern (a regex)."""
        compiled = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            found = compiled.search(self.seen, start)
            if found:
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):
                if (found := compiled.search(self.seen, start)) is not None:
                    return found
                raise AssertionError(f"{pattern!r} not printed; got {self.seen[-2000:]!r}")

    def settle(self, quiet: float = 0.4, limit: float = 10.0) -> None:
        """Read until nothing is printed for `quiet` seconds, as a person waits for the
        prompt before typing (busybox's shell loses keys typed while it redraws it)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], quiet)
            if not ready or not self._read(0):
                return

    def type(self, text: str) -> int:
        """Type text once the screen is quiet; returns the position in `seen` from which
        its answer will come."""
        self.settle()
        mark = len(self.seen)
        os.write(self.master, text.encode())
        return mark

    def resize(self, rows: int, cols: int) -> None:
        """Resize the window: the kernel sends SIGWINCH to the command."""
        _set_size(self.master, rows, cols)

    def wait(self, timeout: float = 60.0) -> int:
        """The command's exit status once it ends (its output read meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"still running; printed {self.seen[-2000:]!r}")
            self._read(0.2)
        for _ in range(100):  # what it printed last; EIO once the pty is closed
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready or not self._read(0):
                break
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        os.close(self.master)


def size_seen(term: Terminal, rows: int, cols: int) -> None:
    """`stty size` inside prints rows and columns (asked again until the resize arrived)."""
    for _ in range(20):
        mark = term.type("stty size\r")
        try:
            term.expect(rf"\r\n{rows} {cols}\r\n", timeout=3, start=mark)
            return
        except AssertionError:
            continue
    raise AssertionError(f"stty size never said {rows} {cols}: {term.seen[-2000:]!r}")


def typed_and_answered(term: Terminal) -> None:
    """A command typed in is run by the shell at the other end, and its answer printed."""
    mark = term.type("echo $((6*7))zz\r")
    term.expect(r"\r\n42zz\r\n", start=mark)
