"""`dockyard exec -it`, `attach`, `run -it`: the container's terminal in ours, as docker does.

Our terminal goes raw (every key, Ctrl-C and Ctrl-D included, goes to the container's TTY),
its size follows the window (SIGWINCH → resize), and the command exits with the status of
the process at the other end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import threading
import tty
from collections.abc import Callable, Iterator
from types import FrameType

from dockyard.client.console import Console
from dockyard.client.containers import ContainersClient

Resize = Callable[[int, int], None]  # (rows, columns) → tell the server


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, columns) of the terminal on fd, or None when it is not a terminal."""
    if not os.isatty(fd):
        return None
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return (rows, cols) if rows and cols else None


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Raw mode on fd while inside (if it is a terminal), restored however we leave."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def following_window(fd: int, resize: Resize) -> Iterator[None]:
    """Tell the server our size now and whenever the window changes (SIGWINCH)."""

    def tell(_signum: int = 0, _frame: FrameType | None = None) -> None:
        size = window_size(fd)
        if size is not None:
            with contextlib.suppress(Exception):  # a resize lost (process ending) is harmless
                resize(*size)

    previous = signal.signal(signal.SIGWINCH, tell)
    try:
        tell()
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def run_console(console: Console, resize: Resize) -> int:
    """Connect our terminal to the console until the server closes it; its exit status."""
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    wake_read, wake_write = os.pipe()
    printer = threading.Thread(
        target=_print_output, args=(console, stdout, wake_write), daemon=True
    )
    try:
        with raw_terminal(stdin), following_window(stdout, resize):
            printer.start()
            _type_input(console, stdin, wake_read)
            printer.join()
    finally:
        console.close()
        os.close(wake_read)
        os.close(wake_write)
    code = console.exit_code
    return 0 if code is None else code


def _print_output(console: Console, stdout: int, wake: int) -> None:
    try:
        for data in console.output():
            _write_all(stdout, data)
    finally:
        os.write(wake, b"x")  # the console ended: stop reading our stdin


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _type_input(console: Console, stdin: int, wake: int) -> None:
    """Send what is typed until the console ends; at the end of a piped stdin, say so once."""
    reading = True
    while True:
        watched = [wake, stdin] if reading else [wake]
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:  # a SIGWINCH while waiting
            continue
        if wake in ready:
            return
        data = os.read(stdin, 65536)
        if not console.send(data):  # empty at the end of stdin: the server half-closes
            return  # the console closed under us; the printer ends too
        reading = bool(data)


# --- the commands' work (their click definitions are in cli/containers.py) ----------------


def exec_interactive(api: ContainersClient, ident: str, command: str) -> int:
    """`exec -it`: a shell-quoted command on a new TTY in the container; without a TTY when
    our stdin is not a terminal (a pipe), so that its end ends the command's input."""
    opened = api.execute_interactive(ident, command, tty=sys.stdin.isatty())
    console = Console(str(opened["proxy_url"]))
    exec_id = str(opened["exec_id"])
    return run_console(console, lambda rows, cols: api.execute_resize(ident, exec_id, rows, cols))


def attach(api: ContainersClient, ident: str) -> int:
    """`attach`: the container's own TTY (its main process)."""
    console = Console(api.attach(ident))
    return run_console(console, lambda rows, cols: api.resize(ident, rows, cols))


def follow_logs(api: ContainersClient, ident: str, tail: str | None) -> None:
    """`logs --follow`: print the output as it is written, until the container stops."""
    out = sys.stdout.buffer
    for chunk in api.follow_logs(ident, tail):
        out.write(chunk)
        out.flush()
