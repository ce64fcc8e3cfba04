"""The engine event pump: the engine's events for this host, as "look at uuid again"."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from dockyard.agent.observed import EngineView
from dockyard.agent.reconcile import event_is_news
from dockyard.runtime.base import ContainerRuntime

log = logging.getLogger(__name__)

# Engine events that can change what we report; exec_* and friends are noise.
RELEVANT_EVENTS = frozenset(
    {"create", "start", "die", "stop", "pause", "unpause", "destroy", "restart", "oom",
     "update", "health_status"}
)  # fmt: skip


class EventPump:
    """Follows the engine's event stream in a worker thread (the SDK's stream blocks).

    An event that is news (event_is_news: not the echo of the agent's own step) marks the
    container stale in `view` and is handed to `on_news` on the event loop; while the
    agent's own steps on the container run, `view` holds it (EngineView.steps_running).
    """

    def __init__(
        self, runtime: ContainerRuntime, view: EngineView, on_news: Callable[[str], None]
    ) -> None:
        self.runtime = runtime
        self.view = view
        self.on_news = on_news
        self._stop = threading.Event()

    async def run(self, host: str) -> None:
        """Pump until stop(); a failed stream is resubscribed after a second."""
        loop = asyncio.get_running_loop()

        def pump() -> None:
            while not self._stop.is_set():
                try:
                    for event in self.runtime.events(host, self._stop):
                        if event.action in RELEVANT_EVENTS:
                            loop.call_soon_threadsafe(self.on_event, event.uuid, event.action)
                except Exception as exc:  # engine restarting: resubscribe shortly
                    log.warning("engine event stream failed: %s", exc)
                    self._stop.wait(1.0)

        await asyncio.to_thread(pump)

    def stop(self) -> None:
        """Let the worker thread end (it sees this within the runtime's poll interval)."""
        self._stop.set()

    def on_event(self, uuid: str, action: str) -> None:
        """Take one relevant engine event (on the event loop)."""
        if self.view.hold(uuid, action):
            return  # the agent's own steps on it are running: judged when they end
        if not event_is_news(action, self.view.get(uuid)):
            return
        self.view.mark_stale(uuid)
        self.on_news(uuid)
