"""The real `openstack network|subnet|subnet pool|security group …` CLI against one Dockyard's
/network endpoint (Neutron's v2.0 subset), without auth or with a caller's token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

OPENSTACK = str(Path(sys.executable).parent / "openstack")


class NeutronCli:
    """Runs `openstack --os-endpoint URL/network ARGS` in a clean environment."""

    def __init__(self, url: str, home: Path, token: str | None = None) -> None:
        self.auth = ["--os-auth-type", "none"]
        if token is not None:  # `=`: a token starting with '-' must not read as an option
            self.auth = ["--os-auth-type", "admin_token", f"--os-token={token}"]
        self.endpoint = f"{url}/network"
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}

    def run(self, *args: str, returncode: int = 0) -> subprocess.CompletedProcess[str]:
        command = [OPENSTACK, *self.auth, "--os-endpoint", self.endpoint, *args]
        done = subprocess.run(
            command, capture_output=True, text=True, env=self.env, timeout=90, check=False
        )
        assert done.returncode == returncode, f"{args}: {done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json").stdout)

    def fails(self, *args: str) -> str:
        """The error a failing command printed (its exit status is 1)."""
        return self.run(*args, returncode=1).stderr
