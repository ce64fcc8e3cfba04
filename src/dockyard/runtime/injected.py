"""Injected files (Zun's `type: bind` mounts) as the tar archive an engine extracts at `/`."""

from __future__ import annotations

import base64
import io
import posixpath
import tarfile

from dockyard.domain.containerspec import InjectedFile


def files_tar(files: list[InjectedFile]) -> bytes:
    """A tar of the files at their absolute paths, parents included, readable by anyone.

    Extracted at `/` of a created (never started) container, so the program finds them at
    its first start, whatever directories its image has.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        made: set[str] = set()
        for item in files:
            path = posixpath.normpath(item.destination).lstrip("/")
            _parents(tar, path, made)
            data = base64.b64decode(item.content)
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _parents(tar: tarfile.TarFile, path: str, made: set[str]) -> None:
    parent = posixpath.dirname(path)
    if not parent or parent in made:
        return
    _parents(tar, parent, made)
    info = tarfile.TarInfo(parent)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)
    made.add(parent)
