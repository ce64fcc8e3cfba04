"""The netplane's shell: what it reads from /proc instead of running `ip`."""

from __future__ import annotations

import os

from dockyard.agent.netplane.shell import Shell


def ip_links() -> set[str]:
    return {link["ifname"] for link in Shell().json("ip", "-j", "link", "show")}


def test_link_names_from_proc_are_those_ip_shows() -> None:
    assert Shell().link_names() == ip_links()
    assert Shell(f"/proc/{os.getpid()}/ns/net").link_names() == ip_links()
    assert "lo" in Shell().link_names()
