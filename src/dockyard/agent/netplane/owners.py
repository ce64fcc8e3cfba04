"""Whether the agent that tagged a network's kernel objects still runs.

Each backend holds an exclusive flock on a file named by its namespace and tag for as long as
its process lives; the kernel drops the lock when the process dies, however it dies. A backend
that finds a link tagged by another owner may take it over only when that owner's lock is
free. Without this, a host whose agent came back with a new state directory (a new tag)
could never again carry a network its predecessor had made: the multi-host bed showed it.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from pathlib import Path
from typing import IO

LOCK_DIR = Path("/run/dockyard-netplane")
# A sweeper (sweep.py) or a takeover holds a stopped tag's lock for a moment while it
# removes that tag's objects; an agent starting again under that tag waits that long rather
# than run without its lock (its tag would look stopped to every later sweeper).
PATIENCE = 5.0
_held: set[Path] = set()  # the lock files backends of this process hold


def lock_path(namespace: str | None, owner: str) -> Path:
    where = Path(namespace).name if namespace else "root"
    return LOCK_DIR / f"{where}.{owner}.lock"


def _try_lock(path: Path) -> IO[str] | None:
    """The file, locked, or None when another open file (another agent) holds it."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


class OwnerLock:
    """Held while a backend runs; released by close() or by the process's end."""

    def __init__(self, namespace: str | None, owner: str) -> None:
        # None if a backend of the same tag already holds it (a test making a second one in
        # one process; another process after PATIENCE): the tag is alive either way, which
        # is all the lock says.
        self._path = lock_path(namespace, owner)
        self._handle: IO[str] | None = None
        if self._path in _held:
            return
        deadline = time.monotonic() + PATIENCE
        while (handle := _try_lock(self._path)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if handle is not None:
            self._handle = handle
            _held.add(self._path)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the last descriptor drops the flock
            self._handle = None
            _held.discard(self._path)


def is_stopped(namespace: str | None, owner: str) -> bool:
    """True when no running backend holds `owner`'s lock in this namespace."""
    path = lock_path(namespace, owner)
    handle = _try_lock(path)
    if handle is None:
        return False
    with contextlib.suppress(OSError):
        path.unlink()
    handle.close()
    return True
