"""The Terminals port: an engine's interactive side (exec with a TTY, attach, resize, follow).

Apart from ContainerRuntime because only a real engine has it: hollow hosts (FakeRuntime)
have no processes to talk to, and their host API answers that it has no terminals.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass
class EngineStream:
    """A hijacked engine connection: raw bytes both ways (a TTY's, or framed when `framed`).

    `pending` is what the engine sent before the connection was handed over (it was already
    read with the HTTP headers); `keep` holds what must live as long as the socket does.
    """

    sock: socket.socket
    framed: bool
    pending: bytes = b""
    keep: object = None


@dataclass(frozen=True)
class ExecInfo:
    container_id: str
    running: bool
    exit_code: int | None


class Terminals(Protocol):
    """Interactive operations on one engine; blocking (the agent calls them in threads)."""

    def exec_create(self, engine_id: str, command: list[str], *, tty: bool) -> str:
        """A new exec instance of command in the container (not started); its id."""
        ...

    def exec_info(self, exec_id: str) -> ExecInfo:
        """Which container the exec belongs to, and whether it still runs."""
        ...

    def exec_stream(self, exec_id: str) -> EngineStream:
        """Start the exec with stdin attached; its TTY as a stream."""
        ...

    def exec_resize(self, exec_id: str, height: int, width: int) -> None: ...

    def attach_stream(self, engine_id: str) -> EngineStream:
        """Attach to the container's stdin, stdout and stderr."""
        ...

    def resize(self, engine_id: str, height: int, width: int) -> None:
        """Resize the container's own TTY (the one attach shows)."""
        ...

    def exit_code(self, engine_id: str) -> int | None:
        """The container's exit code once it has stopped; None while it runs."""
        ...

    def follow_logs(self, engine_id: str, tail: int | None) -> tuple[Iterator[bytes], object]:
        """The container's output as it is written; (chunks, a handle to close)."""
        ...


def frames(buffer: bytearray) -> Iterator[bytes]:
    """Payloads of the complete frames at the start of buffer (which keeps the rest).

    Without a TTY the engine frames its output: 1 byte stream, 3 zero, 4 bytes length.
    """
    while len(buffer) >= 8:
        size = int.from_bytes(buffer[4:8], "big")
        if len(buffer) < 8 + size:
            return
        payload = bytes(buffer[8 : 8 + size])
        del buffer[: 8 + size]
        yield payload
