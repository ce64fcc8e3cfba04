"""Holding a standalone container's command until the agent has plugged its tenant ports.

Why: a standalone container owns its network namespace, which exists only once the engine has
started it, and the agent plugs its ports into it by pid after that. Without a hold its
command would run for a moment with no network: a server binding its address, or a program
reading its address or hosts file at once, would fail. (A sandbox needs no hold: its ports
are plugged before its containers join it.)

How: the host's static busybox (the one the pause image is made of) is bind-mounted read-only
into the container and runs first, as its entrypoint. It waits for SIGUSR1, which the agent
sends once ports, resolver and hosts file are in place, then execs the container's own argv
with its own argv[0], searching PATH as the engine would (never one of busybox's applets).
The wait ends after HOLD_SECONDS in any case, so that a container never hangs on an agent that
is gone; it then runs as it would have without the hold.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from dockyard.runtime.rootfs import BUSYBOX

# Busybox picks its applet by the name it runs as, unless that name starts with "busybox";
# under /dev (the engine's tmpfs) the mount point leaves no trace in the image's layer.
HOLD_PATH = "/dev/.dockyard/busybox"
HOLD_SECONDS = 60
_RELEASE = signal.SIGUSR1

# The trap is set only once the sleeper runs, so that a caught SIGUSR1 (what the agent looks
# for before sending it) always finds $w. A stop while held ends the hold at once (as PID 1
# the shell would otherwise ignore SIGTERM until the engine's SIGKILL). The second wait
# reaps the killed sleeper: a zombie would otherwise stay with a command that never reaps
# children it does not know.
_SCRIPT = f"""\
sleep {HOLD_SECONDS} & w=$!
trap 'kill $w 2>/dev/null' USR1
trap 'exit 143' TERM INT
wait $w
trap - USR1 TERM INT
wait $w 2>/dev/null
a0=$1; shift; p=$a0
case $p in
*/*) ;;
*)  q=; IFS=:
    for d in ${{PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}}; do
        if [ -f "$d/$p" ] && [ -x "$d/$p" ]; then q=$d/$p; break; fi
    done
    unset IFS
    if [ -z "$q" ]; then echo "$p: executable file not found in \\$PATH" >&2; exit 127; fi
    p=$q ;;
esac
exec -a "$a0" "$p" "$@"
"""
_HOLD = [HOLD_PATH, "sh", "-c", _SCRIPT, "dockyard-hold"]


HeldParts = tuple[list[str], list[str]]  # a held container's own entrypoint and command


def own_parts(
    entrypoint: list[str] | None,
    command: list[str] | None,
    image_entrypoint: list[str] | None,
    image_command: list[str] | None,
) -> HeldParts:
    """The entrypoint and command the engine would run, merged with the image's as Docker
    merges them: an entrypoint given drops the image's command; an empty (not absent) one
    drops the image's entrypoint only."""
    if entrypoint:
        return list(entrypoint), list(command or [])
    inherited = (image_entrypoint or []) if entrypoint is None else []
    return list(inherited), list(command or image_command or [])


def own_argv(
    entrypoint: list[str] | None,
    command: list[str] | None,
    image_entrypoint: list[str] | None,
    image_command: list[str] | None,
) -> list[str]:
    """What the engine would run: the merged entrypoint followed by the merged command."""
    first, rest = own_parts(entrypoint, command, image_entrypoint, image_command)
    return [*first, *rest]


def held_entrypoint(own_entrypoint: list[str]) -> list[str]:
    """The engine entrypoint of a held container: the hold, then the container's own
    entrypoint. Its command stays the container's own, so that the engine (and `docker
    inspect`) still shows the command asked for, and the hold runs both once released."""
    return [*_HOLD, *own_entrypoint]


def unheld_entrypoint(entrypoint: list[str] | None) -> list[str] | None:
    """The container's own entrypoint if the engine's is a hold's; None for any other."""
    if not entrypoint or entrypoint[: len(_HOLD)] != _HOLD:
        return None
    return entrypoint[len(_HOLD) :]


def hold_source() -> str:
    """The host file mounted at HOLD_PATH."""
    return str(BUSYBOX)


def release(pid: int, patience: float = 5.0) -> bool:
    """Let process pid's command run, if it is a hold (True when it was released).

    Waits (at most `patience`) until the hold's shell catches SIGUSR1: sent earlier, to the
    PID 1 of a container, the signal would be lost (the kernel drops signals an init does not
    catch) and the command would wait for the whole HOLD_SECONDS.
    """
    proc = Path(f"/proc/{pid}")
    deadline = time.monotonic() + patience
    while True:
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            status = (proc / "status").read_text()
        except OSError:
            return False  # gone
        if argv[0].decode(errors="replace") != HOLD_PATH or b"-c" not in argv[:3]:
            return False  # not held (any more): nothing to do
        if catches(status, _RELEASE):
            os.kill(pid, _RELEASE)
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def catches(status: str, sig: int) -> bool:
    """Whether a process catches signal sig, by its /proc/<pid>/status text."""
    for line in status.splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False
