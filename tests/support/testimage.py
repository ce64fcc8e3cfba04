"""Build the local busybox test image from Debian's busybox-static (there is no internet).

Run `python -m tests.support.testimage [BASE_URL]` to build it and print its name.
"""

from __future__ import annotations

import sys

import docker
import docker.errors
from docker.utils import kwargs_from_env

from dockyard.runtime.pause import build_lock
from dockyard.runtime.rootfs import GROUP, PASSWD, busybox_rootfs_tar

TEST_IMAGE = "dockyard-test/busybox:1"

# busybox `sleep` as PID 1 ignores SIGTERM, so a plain `sleep` container only stops after the
# stop timeout; this one exits at once on SIGTERM (`wait` is interruptible, `sleep` is not).
SLEEP_FOREVER = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"]


def ensure_test_image(docker_base_url: str | None = None) -> str:
    """Return the test image's name, importing it into the engine first if it is missing.

    Idempotent, and safe when several processes race: a file lock per engine serialises the
    check-and-import, so the tag is imported once and never re-pointed under a running test.
    """
    client = _client(docker_base_url)
    try:
        if _has_image(client):
            return TEST_IMAGE
        with build_lock(docker_base_url or "default"):
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
    kwargs = kwargs_from_env()
    if base_url is not None:
        kwargs["base_url"] = base_url
    return docker.APIClient(timeout=120, **kwargs)


def _has_image(client: docker.APIClient) -> bool:
    try:
        client.inspect_image(TEST_IMAGE)  # type: ignore[no-untyped-call]  # untyped in types-docker
    except docker.errors.NotFound:
        return False
    return True


def _rootfs_tar() -> bytes:
    files = {"etc/passwd": PASSWD, "etc/group": GROUP}
    return busybox_rootfs_tar(TEST_IMAGE, files=files, directories=("root", "tmp"))


if __name__ == "__main__":
    print(ensure_test_image(sys.argv[1] if len(sys.argv) > 1 else None))
