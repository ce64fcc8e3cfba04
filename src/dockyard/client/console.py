"""A console websocket (exec -it, attach) opened with the URL the API returned."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from dockyard.client.containers import ApiError, ClientError

_EXIT = re.compile(r"^exit_code=(\d+)$")


class Console:
    """Bytes both ways; after the server closes it, `exit_code` is the process's status."""

    def __init__(self, url: str) -> None:
        self._stack = contextlib.ExitStack()
        try:
            self._ws: ClientConnection = self._stack.enter_context(
                connect(url, open_timeout=15, max_size=None)
            )
        except InvalidStatus as exc:
            response = exc.response
            # the API's refusal is a Zun error document: read it as every other answer
            refusal = httpx.Response(response.status_code, content=bytes(response.body or b""))
            raise ApiError.from_response(refusal) from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise ClientError(f"cannot open the console: {exc}") from None

    def send(self, data: bytes) -> bool:
        """Type data (empty bytes: our stdin ended); False once the console has closed."""
        try:
            self._ws.send(data)
        except ConnectionClosed:
            return False
        return True

    def output(self) -> Iterator[bytes]:
        """What the container's terminal prints, until the server closes the console."""
        try:
            for message in self._ws:
                yield message if isinstance(message, bytes) else message.encode()
        except ConnectionClosed:
            return

    @property
    def exit_code(self) -> int | None:
        found = _EXIT.match(self._ws.close_reason or "")
        return int(found.group(1)) if found else None

    def close(self) -> None:
        self._stack.close()
