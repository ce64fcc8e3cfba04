"""Root filesystems made from the host's busybox-static, for the images Dockyard builds itself.

No registry is needed: the engine imports the tar as an image (`docker import`).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from dockyard import errors

BUSYBOX = Path("/usr/bin/busybox")
_MTIME = 1_700_000_000  # fixed, so that every build yields the same bytes

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def busybox_applets(busybox: Path = BUSYBOX) -> list[str]:
    """Every applet the host's busybox has (plus sh, true, false), for a full userland."""
    # fixed arguments; busybox is the host's own binary, not user input
    listing = subprocess.run([str(busybox), "--list"], capture_output=True, check=True, text=True)  # noqa: S603
    names = {name for name in listing.stdout.split() if name and "/" not in name}
    return sorted((names | {"true", "false", "sh"}) - {"busybox"})


def busybox_rootfs_tar(
    image: str,
    applets: Iterable[str] | None = None,
    files: Mapping[str, bytes] | None = None,
    directories: Iterable[str] = (),
    busybox: Path = BUSYBOX,
) -> bytes:
    """A root filesystem: bin/busybox, a link per applet (default: all), `files` and
    `directories` (each file's directories are made too; tmp is world-writable, root private).

    `image` only names what is built, for the error when busybox-static is missing.
    """
    try:
        binary = busybox.read_bytes()
        names = list(applets) if applets is not None else busybox_applets(busybox)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise errors.RuntimeFailure(
            reason=f"cannot build {image}: {busybox} is missing (install busybox-static)"
        ) from exc
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        needed = {"bin", *directories}
        needed |= {str(parent) for path in files or {} for parent in Path(path).parents}
        for directory in sorted(needed - {"."}):
            mode = 0o1777 if directory == "tmp" else 0o700 if directory == "root" else 0o755
            _add(tar, directory, tarfile.DIRTYPE, mode)
        _add(tar, "bin/busybox", tarfile.REGTYPE, 0o755, data=binary)
        for applet in names:
            _add(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        for path, data in sorted((files or {}).items()):
            _add(tar, path, tarfile.REGTYPE, 0o644, data=data)
    return buffer.getvalue()


def _add(
    tar: tarfile.TarFile, name: str, kind: bytes, mode: int, data: bytes = b"", link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, _MTIME, link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
