"""The real `openstack` CLI (OSC with the zun and neutron plugins) as the end-to-end tests run
it: a clean environment (no stray OS_* variables, no user configuration such as clouds.yaml),
one Dockyard endpoint, and a failure shown with everything the command printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

OPENSTACK = str(Path(sys.executable).parent / "openstack")


class OpenStackCli:
    """Runs `openstack AUTH --os-endpoint ENDPOINT [GROUP] ARGS`, without auth or with a
    caller's token."""

    def __init__(
        self, endpoint: str, home: Path, *, group: str | None = None, token: str | None = None,
        timeout: float = 60,
    ) -> None:  # fmt: skip
        self.auth = ["--os-auth-type", "none"]
        if token is not None:  # `=`: a token starting with '-' must not read as an option
            self.auth = ["--os-auth-type", "admin_token", f"--os-token={token}"]
        self.endpoint = endpoint
        self.group = [group] if group else []
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
        self.timeout = timeout

    def run(self, *args: str, returncode: int = 0) -> subprocess.CompletedProcess[str]:
        command = [OPENSTACK, *self.auth, "--os-endpoint", self.endpoint, *self.group, *args]
        done = subprocess.run(
            command, capture_output=True, text=True, env=self.env, timeout=self.timeout,
            check=False,
        )  # fmt: skip
        assert done.returncode == returncode, f"{args}: {done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json").stdout)


class Osc(OpenStackCli):
    """`openstack appcontainer ARGS` (or `capsule ARGS`) against URL/v1; a call is its output."""

    def __init__(self, url: str, home: Path, group: str = "appcontainer") -> None:
        super().__init__(f"{url}/v1", home, group=group)

    def __call__(self, *args: str, returncode: int = 0) -> str:
        return self.run(*args, returncode=returncode).stdout
