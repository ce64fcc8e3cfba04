"""The real Senlin CLI (python-senlinclient in `openstack cluster …`) in a venv of its own.

python-senlinclient 3.1.0 fails on osc-lib ≥ 4, so its pins (senlin-requirements.txt) live
in .venv-senlin beside the worktree's .venv, made here with uv the first time it is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-senlin"
REQUIREMENTS = Path(__file__).with_name("senlin-requirements.txt")
UV = Path(sys.executable).with_name("uv")


def senlin_openstack() -> Path:
    """The `openstack` command with the Senlin plugin, installing it when missing."""
    binary = VENV / "bin" / "openstack"
    stamp = VENV / ".requirements"
    wanted = REQUIREMENTS.read_text()
    if binary.exists() and stamp.exists() and stamp.read_text() == wanted:
        return binary
    subprocess.run([str(UV), "venv", "-q", "--allow-existing", "-p", sys.executable, str(VENV)],
                   check=True)  # fmt: skip
    subprocess.run(
        [str(UV), "pip", "install", "-q", "--python", str(VENV / "bin" / "python"),
         "-r", str(REQUIREMENTS)],
        check=True,
    )  # fmt: skip
    stamp.write_text(wanted)
    return binary


class SenlinCli:
    """`openstack cluster …` against one Dockyard's /cluster endpoint (no-auth)."""

    def __init__(self, url: str, cwd: Path) -> None:
        self.binary = senlin_openstack()
        self.endpoint = f"{url}/cluster"
        self.cwd = cwd

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.binary), "--os-auth-type", "none", "--os-endpoint", self.endpoint,
                   "cluster", *args]  # fmt: skip
        # A clean environment: no stray OS_* variables, no user configuration (clouds.yaml).
        env = {"PATH": os.environ["PATH"], "HOME": str(self.cwd), "LANG": "C.UTF-8"}
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=self.cwd, env=env, timeout=120
        )
        if check:
            assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}{done.stdout}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-f", "json").stdout)
