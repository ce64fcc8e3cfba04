"""The real `openstack network|subnet|subnet pool|security group …` CLI against one Dockyard's
/network endpoint (Neutron's v2.0 subset), without auth or with a caller's token."""

from __future__ import annotations

from pathlib import Path

from tests.support.osc import OpenStackCli


class NeutronCli(OpenStackCli):
    """Runs `openstack --os-endpoint URL/network ARGS` in a clean environment."""

    def __init__(self, url: str, home: Path, token: str | None = None) -> None:
        super().__init__(f"{url}/network", home, token=token, timeout=90)

    def fails(self, *args: str) -> str:
        """The error a failing command printed (its exit status is 1)."""
        return self.run(*args, returncode=1).stderr
