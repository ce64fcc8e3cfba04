"""Console tokens with two `dockyard api` replicas on one PostgreSQL: a URL one replica
issued opens on the other, and only once, even when both are asked at the same moment."""

from __future__ import annotations

import threading
from pathlib import Path

import docker
import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support.parts import ApiPart
from tests.support.replicas import two_replicas
from tests.support.testimage import SLEEP_FOREVER
from tests.support.wait import wait_status
from tests.support.zun import unique_name

pytestmark = pytest.mark.engine


def _console(api: httpx.Client, uuid: str, command: str) -> str:
    params = {"command": command, "run": "false", "interactive": "true"}
    response = api.post(f"/v1/containers/{uuid}/execute", params=params)
    assert response.status_code == 200, response.text
    return str(response.json()["proxy_url"])


def _opens(url: str) -> int:
    """101 if the console opened (then closed at once), else the refusal's status."""
    try:
        with connect(url, open_timeout=20):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def _on(url: str, replica: ApiPart) -> str:
    """The same console URL, sent to another replica."""
    host = url.split("/v1/streams")[0]
    return url.replace(host, f"ws://127.0.0.1:{replica.port}")


def _exit_status_through(url: str) -> str:
    with connect(url, open_timeout=20) as ws:
        ws.send(b"echo $((40+2))zz; exit 3\n")
        seen = b""
        while True:
            try:
                message = ws.recv(timeout=30)
            except ConnectionClosed:
                break
            seen += message if isinstance(message, bytes) else message.encode()
    assert b"42zz" in seen
    return ws.close_reason or ""


def test_a_console_url_opens_once_on_any_replica(
    tmp_path: Path, test_image: str, engine: docker.DockerClient
) -> None:
    name = unique_name("term-replicas")
    with two_replicas(tmp_path, name, agent_on=0, ready_timeout=120, join_timeout=60) as bed:
        with bed.first.client() as api:
            body = {"name": name, "image": test_image, "command": SLEEP_FOREVER}
            created = api.post("/v1/containers?run=true", json=body).json()
            wait_status(api, created["uuid"], "Running", timeout=120)
            issued = _console(api, created["uuid"], "sh")
            raced = _console(api, created["uuid"], "true")
        # issued by the first replica, opened on the second, typed into, ended
        assert _exit_status_through(_on(issued, bed.second)) == "exit_code=3"
        assert _opens(issued) == 401  # used: the first replica knows it too
        # both replicas asked for one token at the same moment: exactly one opens it
        results: list[int] = []
        threads = [
            threading.Thread(target=lambda u=url: results.append(_opens(u)))
            for url in (raced, _on(raced, bed.second))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(results) == [101, 401]
