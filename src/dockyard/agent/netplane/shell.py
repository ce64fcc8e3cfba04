"""Running iproute2, nft and sysctl in the host's network namespace (or a test's)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from dockyard.agent.netplane.nftlib import Nftables, NftError

# A process's network namespace; its links are listed in /proc/<pid>/net/dev.
_PROCESS_NETNS = re.compile(r"/proc/(\d+|self)/ns/net")


class KernelError(RuntimeError):
    """A kernel configuration command failed; the message carries its stderr."""


class Shell:
    """Runs commands in one network namespace: the agent's own when `netns` is None.

    Tests drive a backend for a namespace they made (a "host" of the bed) from outside it;
    `nsenter --net` switches only the network namespace, so pids and files stay the caller's.
    """

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        self.prefix = [] if netns is None else ["nsenter", f"--net={netns}"]
        self._nft: Nftables | None = None  # made on first use (see nftlib)

    def run(self, *argv: str, check: bool = True, stdin: str | None = None) -> str:
        done = subprocess.run(  # noqa: S603  # argv lists, never a shell; values parsed
            [*self.prefix, *argv], input=stdin, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise KernelError(f"{' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    def nft(self, script: str, check: bool = True) -> str:
        """Run an nft script in this namespace, as `nft -f -` would, without spawning it."""
        if self._nft is None:
            self._nft = Nftables(self.netns)
        try:
            return self._nft.run(script)
        except NftError as exc:
            if check:
                raise KernelError(f"nft: {exc}") from exc
            return ""

    def nft_json(self, command: str) -> Any:
        """A listing as `nft -j` prints it; [] when it failed (a missing set) or printed none."""
        if self._nft is None:
            self._nft = Nftables(self.netns)
        try:
            return self._nft.json(command)
        except (NftError, ValueError):
            return []

    def close(self) -> None:
        if self._nft is not None:
            self._nft.close()
            self._nft = None

    def ok(self, *argv: str) -> bool:
        """True if the command succeeded (for steps whose failure means "already so")."""
        return (
            subprocess.run([*self.prefix, *argv], capture_output=True, check=False).returncode  # noqa: S603
            == 0
        )

    def json(self, *argv: str) -> Any:
        out = self.run(*argv, check=False).strip()
        return json.loads(out) if out else []

    def link_names(self) -> set[str]:
        """The names of the namespace's links.

        Read from /proc when the namespace is the agent's own or a process's (a port is
        plugged on a container's way to running, and each `ip` run costs ≈10 ms of CPU
        here); a namespace given by path (the tests' hosts) asks `ip`.
        """
        found = _PROCESS_NETNS.fullmatch(self.netns or "/proc/self/ns/net")
        if found is None:
            return {link["ifname"] for link in self.json("ip", "-j", "link", "show")}
        lines = Path(f"/proc/{found.group(1)}/net/dev").read_text().splitlines()[2:]
        return {line.split(":", 1)[0].strip() for line in lines if ":" in line}

    def inside(self, pid: int) -> Shell:
        """A shell in the network namespace of process `pid` (a sandbox or a container)."""
        return Shell(f"/proc/{pid}/ns/net")

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-qw", f"{key}={value}")
