"""A real Distribution v2 registry (Debian's `docker-registry`) on loopback, optionally
behind htpasswd (bcrypt) authentication, and pushing the test image into it."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import docker
import docker.errors
from docker.utils import kwargs_from_env

from tests.support.testimage import TEST_IMAGE, ensure_test_image


@dataclass
class Registry:
    """`Registry(root, users={"name": "password"}).start()`; `address` is host:port."""

    root: Path
    users: dict[str, str] = field(default_factory=dict)
    address: str = ""
    _process: subprocess.Popen[bytes] | None = None

    def start(self) -> Registry:
        binary = shutil.which("docker-registry")
        assert binary, "docker-registry is not installed (apt-get install docker-registry)"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{probe.getsockname()[1]}"
        auth = ""
        if self.users:
            htpasswd = self.root / "htpasswd"
            htpasswd.write_text(
                "".join(
                    f"{name}:{bcrypt.hashpw(word.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
                    for name, word in self.users.items()
                )
            )
            auth = f"auth: {{htpasswd: {{realm: dockyard-test, path: {htpasswd}}}}}\n"
        config = self.root / "config.yml"
        config.write_text(
            f"version: 0.1\nlog: {{level: error}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.root / 'data'}}}, "
            "delete: {enabled: true}}\n"
            f"http: {{addr: {self.address}}}\n{auth}"
        )
        self._process = subprocess.Popen(
            [binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_for_port(self.address)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    def push_test_image(self, repository: str, tag: str = "1") -> str:
        """Push the test image as ADDRESS/repository:tag (with the first user's credentials);
        the local tag is removed again, so a pull has to ask the registry."""
        ensure_test_image()
        return self.push(TEST_IMAGE, repository, tag)

    def push(self, local: str, repository: str, tag: str = "1") -> str:
        """Push the local image as ADDRESS/repository:tag; the pushed tag is removed locally."""
        ref = f"{self.address}/{repository}"
        client = docker.APIClient(timeout=120, **kwargs_from_env())
        auth = None
        if self.users:
            name, word = next(iter(self.users.items()))
            auth = {"username": name, "password": word, "serveraddress": self.address}
        try:
            client.tag(local, ref, tag)
            for message in client.push(ref, tag=tag, stream=True, decode=True, auth_config=auth):
                if "error" in message:
                    raise RuntimeError(f"push to {self.address} failed: {message['error']}")
            client.remove_image(f"{ref}:{tag}")
        finally:
            client.close()
        return f"{ref}:{tag}"


def _wait_for_port(address: str, timeout: float = 20.0) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def build_bulky_image(tag: str, megabytes: int) -> str:
    """The test image plus a layer of `megabytes` random bytes (its own image id), so that
    a pull moves real bytes and takes long enough to be watched; returns tag."""
    ensure_test_image()
    blob = os.urandom(megabytes * 1024 * 1024)
    dockerfile = f"FROM {TEST_IMAGE}\nCOPY blob /blob\n".encode()
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("blob", blob)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    client = docker.APIClient(timeout=300, **kwargs_from_env())
    try:
        for message in client.build(fileobj=context, custom_context=True, tag=tag, decode=True):
            if "error" in message:
                raise RuntimeError(f"build of {tag} failed: {message['error']}")
    finally:
        client.close()
    return tag
