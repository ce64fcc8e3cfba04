"""`dockyard serve|api --auth …` refuses to start on unusable settings, with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.services.policy import defaults_yaml
from tests.support.server import free_port


def dockyard(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    command = [sys.executable, "-m", "dockyard", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        env={**clean, "DOCKYARD_DATA_DIR": str(tmp_path / "data"),
             "DOCKYARD_AGENT__JOIN_TOKEN": "join-token-for-startup-tests", **env},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--auth", "tokens"], {}, "the tokens backend needs DOCKYARD_AUTH__TOKENS_FILE"),
        (
            ["--auth", "keystone"],
            {"DOCKYARD_AUTH__SERVICE_PASSWORD": "pw-must-not-show"},
            "the keystone backend needs DOCKYARD_AUTH__KEYSTONE_URL, "
            "DOCKYARD_AUTH__SERVICE_USERNAME",
        ),
        (
            [],
            {"DOCKYARD_AUTH__POLICY_FILE": "{tmp}/policy.yaml"},
            "unknown rule name(s): pets:feed",
        ),
        ([], {"DOCKYARD_AUTH__BACKEND": "ldap"}, "DOCKYARD_AUTH__BACKEND: Input should be"),
    ],
)
def test_unusable_auth_settings_stop_the_api_before_it_serves(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    (tmp_path / "policy.yaml").write_text('"pets:feed": "@"\n')
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    done = dockyard(tmp_path, "api", "--port", str(free_port()), *args, **env)
    assert done.returncode == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert "pw-must-not-show" not in done.stderr + done.stdout


def test_policy_defaults_prints_the_default_policy_file(tmp_path: Path) -> None:
    done = dockyard(tmp_path, "policy-defaults")
    assert done.returncode == 0, done.stderr
    assert done.stdout == defaults_yaml()
