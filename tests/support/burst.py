"""A burst of container creates from several threads, recording every 202 (crash tests)."""

from __future__ import annotations

import threading

import httpx

from tests.support.server import V140
from tests.support.testimage import SLEEP_FOREVER

BURST = 20


def burst_of_creates(
    url: str, image: str, accepted: list[str], halfway: threading.Event, prefix: str = "crash"
) -> None:
    """Create BURST containers from 4 threads; record the uuid of every 202 in `accepted`
    and set `halfway` once half of them were accepted."""
    names = iter(f"{prefix}-{i}" for i in range(BURST))
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=url, headers=V140, timeout=10) as api:
            while True:
                with lock:
                    name = next(names, None)
                if name is None:
                    return
                body = {"name": name, "image": image, "command": SLEEP_FOREVER}
                try:
                    response = api.post("/v1/containers?run=true", json=body)
                except httpx.HTTPError:
                    continue  # the server died under this request: not accepted
                if response.status_code == 202:
                    with lock:
                        accepted.append(response.json()["uuid"])
                        if len(accepted) >= BURST // 2:
                            halfway.set()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
