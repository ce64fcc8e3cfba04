"""Stopping the control plane's long-running asyncio tasks, shared by db and services."""

import asyncio
import contextlib


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Cancel a background loop and wait until it has unwound.

    Waiting matters: a loop cancelled but not awaited may still hold a database session or
    a LISTEN connection when the engine it uses is disposed. The loop's own CancelledError
    is the expected way out and is swallowed; any other error it ends with is raised.
    It lives at the package's top level because both db/ and services/ stop such loops and
    db must not import services.
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
