"""Removing what agents that no longer run left in a namespace: nft tables, links, routing.

A stopping agent leaves its kernel objects (its containers may still run, and it takes them
back under the same tag when it comes back), and one that crashes cannot clean up at all.
An agent that never comes back under that tag leaves them for good: its nft tables stay in
the ruleset, and every nft run of every agent reads the whole ruleset (hundreds of dead
tables on a test machine took nft from 16 to 124 ms of CPU per run, ≈100 ms on each
container create). So a backend, when it starts, removes the objects of every tag whose
owner lock (owners.py) is free.

A tag counts as stopped only when its lock file exists and nobody holds it: an agent
without that file (one that keeps its locks in another /run, a container's own, or names
the namespace by another path) is not known to be stopped, and its objects stay. The lock
is held while its objects go, so the agent cannot start again under that tag meanwhile, nor
a second sweeper work on the same tag. Links taken over since (another alias) are not its.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from typing import Any

from dockyard.agent.netplane import nft, owners
from dockyard.agent.netplane.backend import (
    BRIDGE_PREFIX,
    PORT_PREFIX,
    RULE_PREF,
    VXLAN_PREFIX,
    bridge_name,
    network_mark,
)
from dockyard.agent.netplane.shell import Shell

log = logging.getLogger(__name__)

ALIAS_PREFIX = "dockyard:"
TABLE_PREFIX = f"{nft.TABLE}_"
_DEVICE_ORDER = (PORT_PREFIX, VXLAN_PREFIX, BRIDGE_PREFIX)  # ports off a bridge before it


@contextlib.contextmanager
def stopped_owner(namespace: str | None, owner: str) -> Iterator[bool]:
    """True (the lock held until the block ends) when `owner`'s lock file exists and no
    running agent holds it; False otherwise, for a missing file too (never created here)."""
    try:
        fd = os.open(owners.lock_path(namespace, owner), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # drops the flock; the file stays (unlinking it races with a new agent)


def sweep(shell: Shell, namespace: str | None, own: str) -> list[str]:
    """Remove the objects of every stopped agent in this namespace but `own`; the tags swept."""
    links = _links(shell)
    tags = {t for t in _table_tags(shell) | set(links.values()) if t != own and t.isalnum()}
    swept = []
    for tag in sorted(tags):
        with stopped_owner(namespace, tag) as stopped:
            if not stopped:
                continue
            _remove(shell, tag, [name for name, owner in links.items() if owner == tag])
            swept.append(tag)
    if swept:
        log.warning("removed the tenant-network objects of stopped agents: %s", ", ".join(swept))
    return swept


def _remove(shell: Shell, tag: str, devices: list[str]) -> None:
    table = nft.table_name(tag)
    vnis = {int(d[len(BRIDGE_PREFIX) :], 16) for d in devices if _is_network_device(d)}
    # Its set names its networks' bridges: those gone (or never made) still have rules.
    present = set(_links(shell))
    named = shell.nft_json(f"list set inet {table} bridges")
    for bridge in _set_elements(named):
        if bridge not in present and _is_network_device(bridge):
            vnis.add(int(bridge[len(BRIDGE_PREFIX) :], 16))
    for prefix in _DEVICE_ORDER:
        for device in devices:
            if device.startswith(prefix):
                shell.run("ip", "link", "del", device, check=False)
    # Its bridges are gone: no one else's rules send packets to their tables.
    tables = {str(network_mark(vni)) for vni in vnis}
    for rule in _json(shell, "ip", "-j", "rule", "show"):
        if rule.get("priority") != RULE_PREF or str(rule.get("table")) not in tables:
            continue
        if "fwmark" in rule:
            selector = ["fwmark", hex(int(rule["fwmark"], 16))]
        elif "oif" in rule:
            selector = ["oif", str(rule["oif"])]
        else:
            continue
        shell.run("ip", "rule", "del", "pref", str(RULE_PREF), *selector, check=False)
    for routes in sorted(tables):
        shell.run("ip", "route", "flush", "table", routes, check=False)
    # Last: its bridges' traffic is filtered until they are gone.
    shell.nft(nft.removal(tag), check=False)


def _is_network_device(name: str) -> bool:
    if not name.startswith((BRIDGE_PREFIX, VXLAN_PREFIX)) or len(name) != len(bridge_name(0)):
        return False
    try:
        int(name[len(BRIDGE_PREFIX) :], 16)
    except ValueError:
        return False
    return True


def _links(shell: Shell) -> dict[str, str]:
    """Every link tagged by an agent here: name -> tag."""
    found = {}
    for link in _json(shell, "ip", "-j", "link", "show"):
        alias = str(link.get("ifalias") or "")
        if alias.startswith(ALIAS_PREFIX) and "ifname" in link:
            found[str(link["ifname"])] = alias.removeprefix(ALIAS_PREFIX)
    return found


def _table_tags(shell: Shell) -> set[str]:
    """The tags of the agents' tables (either family); no one else's table matches."""
    listed = shell.nft_json("list tables")
    entries = listed.get("nftables", []) if isinstance(listed, dict) else []
    tags = set()
    for entry in entries:
        table = entry.get("table") if isinstance(entry, dict) else None
        if not isinstance(table, dict) or table.get("family") not in ("inet", "bridge"):
            continue
        name = str(table.get("name", ""))
        if name.startswith(TABLE_PREFIX):
            tags.add(name.removeprefix(TABLE_PREFIX))
    return tags


def _set_elements(listed: Any) -> list[str]:
    entries = listed.get("nftables", []) if isinstance(listed, dict) else []
    for entry in entries:
        found = entry.get("set") if isinstance(entry, dict) else None
        if isinstance(found, dict):
            elements = found.get("elem", [])
            elements = [elements] if isinstance(elements, str) else elements
            return [e for e in elements if isinstance(e, str)] if isinstance(elements, list) else []
    return []


def _json(shell: Shell, *argv: str) -> Any:
    """The command's JSON output; nothing when it failed or printed none (a missing set)."""
    try:
        return shell.json(*argv)
    except ValueError:
        return []
