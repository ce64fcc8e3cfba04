"""The README's examples run as written, top to bottom, against a real `dockyard serve`.

A code block preceded by the line `<!-- readme-test -->` is run: `sh` blocks with bash
(stopping at the first failing command), `python` blocks with this interpreter. The README's
address (127.0.0.1:9517) is replaced by the test server's; everything else runs verbatim,
from the repository's root, so the README cannot rot.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.server import DockyardProcess
from tests.support.wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARK = "<!-- readme-test -->"
BLOCK = re.compile(re.escape(MARK) + r"\n```(sh|python)\n(.*?)```", re.DOTALL)
README_ADDRESS = "127.0.0.1:9517"


def marked_blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(README.read_text())]


def test_the_readme_marks_blocks_and_only_in_front_of_code() -> None:
    blocks = marked_blocks()
    assert len(blocks) >= 4, "the README's examples are no longer marked for this test"
    assert README.read_text().count(MARK) == len(blocks), "a mark is not followed by a block"


def _names(api: httpx.Client) -> set[str]:
    return {c["name"] for c in api.get("/v1/containers").json()["containers"]}


def test_readme_examples_run_as_written_and_clean_up(
    server: DockyardProcess, api: httpx.Client
) -> None:
    address = server.url.removeprefix("http://")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "DOCKYARD_"))}
    # The README's `export PATH="$PWD/.venv/bin:$PATH"` finds the CLI; in a test run from
    # another environment, this interpreter's bin directory holds it.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["DOCKYARD_URL"] = server.url  # the CLI's default is the README's address
    before = _names(api)
    for language, code in marked_blocks():
        code = code.replace(README_ADDRESS, address)
        argv = ["bash", "-euo", "pipefail", "-c", code]
        if language == "python":
            argv = [sys.executable, "-c", code]
        done = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, f"{code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        if "wget" in code or "index.html" in code:
            assert "Hello from Dockyard." in done.stdout, done.stdout
    # Deletes are asynchronous: give the agent its moment, then nothing may be left.
    wait_for(lambda: _names(api) <= before, what="the README's containers to be gone")


@pytest.mark.parametrize("link", re.findall(r"\]\((?!https?://|#)([^)]+)\)", README.read_text()))
def test_readme_links_only_to_files_a_clone_has(link: str) -> None:
    assert (ROOT / link.split("#")[0]).exists(), link
