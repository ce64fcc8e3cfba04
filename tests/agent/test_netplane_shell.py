"""The netplane's shell: what it reads from /proc instead of running `ip`."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from dockyard.agent.netplane.shell import KernelError, Shell


def ip_links() -> set[str]:
    return {link["ifname"] for link in Shell().json("ip", "-j", "link", "show")}


def test_link_names_from_proc_are_those_ip_shows() -> None:
    assert Shell().link_names() == ip_links()
    assert Shell(f"/proc/{os.getpid()}/ns/net").link_names() == ip_links()
    assert "lo" in Shell().link_names()


def test_nft_scripts_run_in_the_shell_s_namespace_without_spawning_nft() -> None:
    """Scripts go through libnftables in this process, in the namespace the shell names."""
    other = subprocess.Popen(["unshare", "--net", "sleep", "60"])  # noqa: S607
    try:
        mine = os.readlink("/proc/self/ns/net")
        while os.readlink(f"/proc/{other.pid}/ns/net") == mine:
            time.sleep(0.01)
        shell = Shell(f"/proc/{other.pid}/ns/net")
        table = f"dockyard_nfttest{os.getpid()}"
        shell.nft(f"table inet {table} {{\n  set s {{ type ifname; }}\n}}")
        try:
            listed = shell.nft_json("list tables")["nftables"]
            names = [e["table"]["name"] for e in listed if "table" in e]
            assert names == [table]  # in that namespace, and only there
            assert table not in Shell().nft("list tables")
            assert shell.nft(f"list set inet {table} s").count("set s") == 1  # output not kept
            with pytest.raises(KernelError, match="No such file or directory"):
                shell.nft("delete table inet nosuchtable")
            assert shell.nft("delete table inet nosuchtable", check=False) == ""
            assert shell.nft_json("list set inet nosuchtable s") == []
        finally:
            shell.nft(f"delete table inet {table}", check=False)
            shell.close()
    finally:
        other.kill()
        other.wait()
