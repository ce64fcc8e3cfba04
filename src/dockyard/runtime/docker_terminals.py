"""DockerTerminals: the Terminals port on a Docker engine (hijacked exec/attach sockets)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import docker
import docker.utils

from dockyard import errors
from dockyard.runtime.docker_errors import translated
from dockyard.runtime.terminals import EngineStream, ExecInfo


class DockerTerminals:
    """Its own APIClient: hijacked connections never go back to DockerRuntime's pool."""

    def __init__(self, base_url: str | None = None) -> None:
        self._base_url = base_url
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def _api(self) -> Any:
        with self._lock:
            if self._client is None:
                kwargs = docker.utils.kwargs_from_env()
                if self._base_url is not None:
                    kwargs["base_url"] = self._base_url
                with translated(self._base_url or "docker"):
                    self._client = docker.APIClient(timeout=60, **kwargs)
            return self._client

    def exec_create(self, engine_id: str, command: list[str], *, tty: bool) -> str:
        with translated(engine_id):
            created = self._api.exec_create(engine_id, command, stdin=True, tty=tty)
        return str(created["Id"])

    def exec_info(self, exec_id: str) -> ExecInfo:
        with translated(exec_id):
            state = self._api.exec_inspect(exec_id)
        code = state.get("ExitCode")
        return ExecInfo(
            container_id=str(state.get("ContainerID", "")),
            running=bool(state.get("Running")),
            exit_code=int(code) if code is not None and not state.get("Running") else None,
        )

    def exec_stream(self, exec_id: str) -> EngineStream:
        with translated(exec_id):
            tty = bool(self._api.exec_inspect(exec_id).get("ProcessConfig", {}).get("tty"))
            sock = self._api.exec_start(exec_id, tty=tty, socket=True)
        return _stream(sock, framed=not tty)

    def exec_resize(self, exec_id: str, height: int, width: int) -> None:
        with translated(exec_id):
            self._api.exec_resize(exec_id, height=height, width=width)

    def attach_stream(self, engine_id: str) -> EngineStream:
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        with translated(engine_id):
            tty = bool(self._api.inspect_container(engine_id)["Config"].get("Tty"))
            sock = self._api.attach_socket(engine_id, params=params)
        return _stream(sock, framed=not tty)

    def resize(self, engine_id: str, height: int, width: int) -> None:
        with translated(engine_id):
            self._api.resize(engine_id, height=height, width=width)

    def exit_code(self, engine_id: str) -> int | None:
        with translated(engine_id):
            state = self._api.inspect_container(engine_id)["State"]
        if state.get("Running") or state.get("Restarting"):
            return None
        return int(state.get("ExitCode", 0))

    def follow_logs(self, engine_id: str, tail: int | None) -> tuple[Iterator[bytes], object]:
        with translated(engine_id):
            stream = self._api.logs(
                engine_id, stream=True, follow=True, tail="all" if tail is None else tail
            )
        return _translated_chunks(engine_id, stream), stream


def _translated_chunks(engine_id: str, stream: Iterator[bytes]) -> Iterator[bytes]:
    with translated(engine_id):
        yield from stream


def _stream(hijacked: Any, *, framed: bool) -> EngineStream:
    """The socket under the SDK's hijacked response, and what its HTTP reader had buffered."""
    raw = getattr(hijacked, "_sock", hijacked)
    if not isinstance(raw, socket.socket):
        raise errors.RuntimeFailure(reason="the engine connection is not a plain socket")
    raw.setblocking(False)
    response = getattr(hijacked, "_response", None)
    pending = _buffered(response)
    return EngineStream(sock=raw, framed=framed, pending=pending, keep=(hijacked, response))


def _buffered(response: Any) -> bytes:
    """Bytes the engine sent right after its headers, which the HTTP reader already took."""
    reader = getattr(getattr(getattr(response, "raw", None), "_fp", None), "fp", None)
    if reader is None:
        return b""
    try:
        data = reader.read1(65536) if reader.peek(1) else b""
    except (BlockingIOError, OSError, ValueError):
        return b""
    return bytes(data or b"")
