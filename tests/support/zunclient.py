"""The real python-zunclient library as the end-to-end tests drive it: a client of one
Dockyard at one microversion, and waits on a container through it."""

from __future__ import annotations

import contextlib

from zunclient import client as zunclient
from zunclient import exceptions as zunexc
from zunclient.v1.client import Client
from zunclient.v1.containers import Container

from tests.support.wait import wait_for


def make_client(url: str, version: str = "1.40", token: str | None = None) -> Client:
    """A client of Dockyard at `url` (its root) sending `token`; without one, a placeholder
    that a server without auth takes."""
    client: Client = zunclient.Client(
        version, endpoint_override=f"{url}/v1", auth_token=token or "x"
    )
    return client


def wait_status(zun: Client, ident: str, status: str, timeout: float = 30) -> Container:
    def check() -> Container | None:
        container: Container = zun.containers.get(ident)
        return container if container.status == status else None

    result: Container = wait_for(check, timeout, what=f"{ident} to be {status}")
    return result


def wait_deleted(zun: Client, ident: str, timeout: float = 30) -> None:
    def gone() -> bool:
        try:
            zun.containers.get(ident)
        except zunexc.NotFound:
            return True
        return False

    wait_for(gone, timeout, what=f"{ident} to be deleted")


def remove(zun: Client, ident: str) -> None:
    with contextlib.suppress(zunexc.NotFound):
        zun.containers.delete(ident, force=True)
    wait_deleted(zun, ident)
