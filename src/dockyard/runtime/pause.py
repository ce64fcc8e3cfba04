"""The sandbox infra ("pause") image: a root filesystem made from the host's busybox-static."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard.runtime.rootfs import BUSYBOX, busybox_rootfs_tar

# Bump the tag whenever the content changes: an engine keeps the first build of a tag.
PAUSE_IMAGE = "dockyard/pause:1"

# PID 1 of a sandbox. A shell as PID 1 gets no default signal handling, so the trap is what
# makes it exit 0 at once on stop; `wait` is interruptible where `sleep` is not, and ash's
# wait reaps every child, so orphans of a shared PID namespace do not pile up as zombies.
PAUSE_COMMAND = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done"]

_APPLETS = ("sh", "sleep")


def pause_rootfs_tar(busybox: Path = BUSYBOX) -> bytes:
    """The image's root filesystem as a tar: bin/busybox and the applets PAUSE_COMMAND uses."""
    return busybox_rootfs_tar(PAUSE_IMAGE, applets=_APPLETS, busybox=busybox)


@contextmanager
def build_lock(engine: str) -> Iterator[None]:
    """An exclusive lock, across processes, on building images into one engine."""
    key = hashlib.sha256(engine.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"dockyard-image-build-{key}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
