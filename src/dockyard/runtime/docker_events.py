"""The engine's event stream on a Docker engine (a base of DockerRuntime): a subscription that
outlives engine restarts and ends at once when asked, which is why it needs threads of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from dockyard import errors
from dockyard.runtime.base import EngineEvent
from dockyard.runtime.docker_errors import translated
from dockyard.runtime.docker_inspect import JSON
from dockyard.runtime.labels import LABEL_CONTAINER, LABEL_HOST


class DockerEvents:
    """events(); it talks to the engine through `_api`."""

    @property
    def _api(self) -> Any:  # DockerRuntime's lazily made APIClient
        raise NotImplementedError

    def events(self, host: str, stop: threading.Event) -> Iterator[EngineEvent]:
        """Container events of this host's labelled containers until stop is set.

        Subscribes before returning, so a caller that lists containers after this call misses
        nothing; stopping closes the stream at once.
        """
        current = [self._open_events(host, since=None)]  # the stream being read
        done = threading.Event()
        watcher = threading.Thread(
            target=_close_on_stop, args=(stop, done, current), name="dockyard-events", daemon=True
        )
        watcher.start()
        return self._follow_events(host, stop, current, done)

    def _open_events(self, host: str, since: str | None) -> Any:
        filters = {"type": "container", "label": [f"{LABEL_HOST}={host}"]}
        with translated(host):
            return self._api.events(since=since, decode=True, filters=filters)

    def _follow_events(
        self, host: str, stop: threading.Event, current: list[Any], done: threading.Event
    ) -> Iterator[EngineEvent]:
        last_nano: int | None = None
        try:
            while not stop.is_set():
                for raw in _drain(current[0], stop):
                    last_nano = int(raw.get("timeNano") or 0) or last_nano
                    event = _to_event(raw)
                    if event is not None:
                        yield event
                # The engine ended the stream (it restarted?): resume after the last event.
                # The stream is replaced before stop is looked at again, so the watcher
                # closes either the old one (and we stop here) or this one.
                if stop.wait(0.1):
                    break
                since = None if last_nano is None else f"{(last_nano + 1) / 1e9:.9f}"
                current[0] = self._open_events(host, since=since)
        finally:
            done.set()
            current[0].close()


def _close_on_stop(stop: threading.Event, done: threading.Event, current: list[Any]) -> None:
    # Polls `done` every half second so that an abandoned iterator does not pin this thread.
    while not done.is_set():
        if stop.wait(0.5):
            current[0].close()  # wakes the blocked read at once
            return


def _drain(stream: Any, stop: threading.Event) -> Iterator[JSON]:
    # Closing a stream under a reader can surface as OSError or ValueError (closed file,
    # cut JSON); after stop that is the expected end, before it a broken connection.
    try:
        yield from stream
    except (OSError, ValueError) as exc:
        if not stop.is_set():
            raise errors.RuntimeFailure(reason=f"event stream broke: {exc}") from exc


def _to_event(raw: JSON) -> EngineEvent | None:
    attributes = (raw.get("Actor") or {}).get("Attributes") or {}
    uuid = attributes.get(LABEL_CONTAINER)
    action = raw.get("Action") or raw.get("status")
    if not uuid or not action:
        return None
    return EngineEvent(uuid=str(uuid), action=str(action))
