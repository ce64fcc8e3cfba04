"""The sandbox infra ("pause") image: a root filesystem made from the host's busybox-static."""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dockyard import errors

# Bump the tag whenever the content changes: an engine keeps the first build of a tag.
PAUSE_IMAGE = "dockyard/pause:1"
BUSYBOX = Path("/usr/bin/busybox")

# PID 1 of a sandbox. A shell as PID 1 gets no default signal handling, so the trap is what
# makes it exit 0 at once on stop; `wait` is interruptible where `sleep` is not, and ash's
# wait reaps every child, so orphans of a shared PID namespace do not pile up as zombies.
PAUSE_COMMAND = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 2147483647 & wait $!; done"]

_APPLETS = ("sh", "sleep")
_MTIME = 1_700_000_000  # fixed, so that every build yields the same bytes


def pause_rootfs_tar(busybox: Path = BUSYBOX) -> bytes:
    """The image's root filesystem as a tar: bin/busybox and the applets PAUSE_COMMAND uses."""
    try:
        binary = busybox.read_bytes()
    except OSError as exc:
        raise errors.RuntimeFailure(
            reason=f"cannot build {PAUSE_IMAGE}: {busybox} is missing (install busybox-static)"
        ) from exc
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        _add(tar, "bin", tarfile.DIRTYPE, 0o755)
        _add(tar, "bin/busybox", tarfile.REGTYPE, 0o755, data=binary)
        for applet in _APPLETS:
            _add(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
    return buffer.getvalue()


@contextmanager
def build_lock(engine: str) -> Iterator[None]:
    """An exclusive lock, across processes, on building images into one engine."""
    key = hashlib.sha256(engine.encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"dockyard-pause-image-{key}.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _add(
    tar: tarfile.TarFile, name: str, kind: bytes, mode: int, data: bytes = b"", link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, _MTIME, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
