"""Build the local busybox test image from Debian's busybox-static (there is no internet).

Run `python -m tests.support.testimage [BASE_URL]` to build it and print its name.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import docker
import docker.errors

TEST_IMAGE = "dockyard-test/busybox:1"
BUSYBOX = Path("/usr/bin/busybox")

# busybox `sleep` as PID 1 ignores SIGTERM, so a plain `sleep` container only stops after the
# stop timeout; this one exits at once on SIGTERM (`wait` is interruptible, `sleep` is not).
SLEEP_FOREVER = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"]

_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = b"root:x:0:\nnogroup:x:65534:\n"
# A fixed mtime keeps the tar bytes identical from build to build.
_MTIME = 1_700_000_000


def ensure_test_image(docker_base_url: str | None = None) -> str:
    """Return the test image's name, importing it into the engine first if it is missing.

    Idempotent, and safe when several processes race: a file lock per engine serialises the
    check-and-import, so the tag is imported once and never re-pointed under a running test.
    """
    client = _client(docker_base_url)
    try:
        if _has_image(client):
            return TEST_IMAGE
        with _lock(docker_base_url):
            if not _has_image(client):
                repository, tag = TEST_IMAGE.rsplit(":", 1)
                client.import_image_from_data(
                    _rootfs_tar(), repository=repository, tag=tag, changes=['CMD ["sh"]']
                )
        return TEST_IMAGE
    finally:
        client.close()


def push_test_image(registry: str, docker_base_url: str | None = None) -> str:
    """Push the test image to registry ("host:port"); return the ref to pull it by."""
    ensure_test_image(docker_base_url)
    repository, tag = f"{registry}/{TEST_IMAGE}".rsplit(":", 1)
    client = _client(docker_base_url)
    try:
        client.tag(TEST_IMAGE, repository, tag)
        for message in client.push(repository, tag=tag, stream=True, decode=True):
            if "error" in message:
                raise RuntimeError(f"push to {registry} failed: {message['error']}")
        # Only the registry keeps it: a pull then really has to fetch it.
        client.remove_image(f"{repository}:{tag}")
    finally:
        client.close()
    return f"{repository}:{tag}"


def remove_image(ref: str, docker_base_url: str | None = None) -> None:
    """Remove a local image tag if present (for images a test pulled)."""
    client = _client(docker_base_url)
    try:
        client.remove_image(ref)
    except docker.errors.NotFound:
        pass
    finally:
        client.close()


def _client(base_url: str | None) -> docker.APIClient:
    kwargs = docker.utils.kwargs_from_env()
    if base_url is not None:
        kwargs["base_url"] = base_url
    return docker.APIClient(timeout=120, **kwargs)


def _has_image(client: docker.APIClient) -> bool:
    try:
        client.inspect_image(TEST_IMAGE)
    except docker.errors.NotFound:
        return False
    return True


class _lock:
    """An exclusive flock on a file named after the engine, held for a with-block."""

    def __init__(self, base_url: str | None) -> None:
        key = hashlib.sha256((base_url or os.environ.get("DOCKER_HOST", "")).encode()).hexdigest()
        self._path = Path(tempfile.gettempdir()) / f"dockyard-test-image-{key[:16]}.lock"
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_CREAT | os.O_RDWR, 0o666)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _applets() -> list[str]:
    listing = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, check=True, text=True)
    names = {name for name in listing.stdout.split() if name and "/" not in name}
    return sorted(names | {"true", "false", "sh"})


def _rootfs_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory, mode in [("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777)]:
            _add(tar, directory, tarfile.DIRTYPE, mode)
        _add(tar, "bin/busybox", tarfile.REGTYPE, 0o755, data=BUSYBOX.read_bytes())
        for applet in _applets():
            if applet != "busybox":
                _add(tar, f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox")
        _add(tar, "etc/passwd", tarfile.REGTYPE, 0o644, data=_PASSWD)
        _add(tar, "etc/group", tarfile.REGTYPE, 0o644, data=_GROUP)
    return buffer.getvalue()


def _add(
    tar: tarfile.TarFile, name: str, kind: bytes, mode: int, data: bytes = b"", link: str = ""
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = _MTIME
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


if __name__ == "__main__":
    print(ensure_test_image(sys.argv[1] if len(sys.argv) > 1 else None))
