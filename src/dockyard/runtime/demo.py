"""The demo image: busybox with a web page, built on the host the first time it is asked for.

Its name is under `dockyard.local`, a domain no registry can have (`.local` is reserved for
the local network, RFC 6762): nobody takes it for a Docker Hub image, and an agent that
is asked for it builds it from the host's busybox-static instead of pulling it.
"""

from __future__ import annotations

import json

from dockyard.runtime.rootfs import GROUP, PASSWD, busybox_rootfs_tar

DEMO_IMAGE = "dockyard.local/demo:1"  # bump the tag when the content changes
DEMO_PORT = 8080
DEMO_PAGE = b"Hello from Dockyard.\n"

# By default it serves /www on DEMO_PORT. httpd as PID 1 would ignore SIGTERM (PID 1 gets
# no default signal actions), so the shell traps it and `stop` ends the container at once.
DEMO_COMMAND = [
    "sh", "-c", f"trap 'exit 0' TERM INT; httpd -f -p {DEMO_PORT} -h /www & wait",
]  # fmt: skip


def demo_rootfs_tar() -> bytes:
    """The demo image's root filesystem: every busybox applet, users, /tmp and /www."""
    files = {"etc/passwd": PASSWD, "etc/group": GROUP, "www/index.html": DEMO_PAGE}
    return busybox_rootfs_tar(DEMO_IMAGE, files=files, directories=("root", "tmp"))


def demo_changes() -> list[str]:
    """The image's configuration, as `docker import --change` lines."""
    return [f"CMD {json.dumps(DEMO_COMMAND)}", f"EXPOSE {DEMO_PORT}/tcp", "WORKDIR /"]
