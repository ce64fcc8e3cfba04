"""The API client of the current command: made from its --url and --token options, closed with
its context (the containers, volume, network and cluster commands each use one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import click


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)


def open_client(make: Callable[..., C]) -> C:
    """The client `make(url, token=…)` for the current command, closed with its context."""
    ctx = click.get_current_context()
    api = make(ctx.meta["dockyard.url"], token=ctx.meta.get("dockyard.token"))
    ctx.call_on_close(api.close)
    return api
