"""The health policy's HTTP poll of a member (NODE_STATUS_POLL_URL), made by the member's host.

Members sit on their project's tenant networks, which the control plane has no leg on; the
member's agent has, through the member's own network namespace. So the control plane only
names the address (one of the member's), port and path, and the agent makes the GET there
(agent/hostapi_probe.py), refusing any address that is not the member's own.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dockyard.db.engine import Sessions
from dockyard.db.repositories.hosts import HostRepository
from dockyard.errors import DockyardError, Invalid
from dockyard.schemas.clusters_specs import POLL_URL
from dockyard.services.clusters_world import CapsuleUnit, Unit
from dockyard.services.hostcalls import HostCalls

log = logging.getLogger(__name__)

POLL_TIMEOUT = 5.0  # s: connect, then answer; a member slower than that is not healthy


@dataclass(frozen=True)
class PollTarget:
    ip: str
    port: int
    path: str

    @property
    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}{self.path}"


@dataclass(frozen=True)
class PollVerdict:
    healthy: bool
    connected: bool
    reason: str


def poll_target(template: str, node_name: str, addresses: dict[str, Any] | None) -> PollTarget:
    """The member's poll URL: {ip} (or Senlin's {nova_server_ip}) is its first address,
    {nodename} its node's name. InvalidValue for a URL of another form (the policy's schema
    refuses those) or a member without an address."""
    found = POLL_URL.fullmatch(template)
    if found is None:
        raise Invalid(f"poll_url {template!r} does not name the member's own address.")
    ip = first_address(addresses)
    if ip is None:
        raise Invalid("The member has no address to poll.")
    path = (found["path"] or "/").replace("{nodename}", quote(node_name, safe=""))
    return PollTarget(ip, int(found["port"] or 80), path)


def first_address(addresses: dict[str, Any] | None) -> str | None:
    for entries in (addresses or {}).values():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("addr"):
                return str(entry["addr"])
    return None


# Polls a member: its container (or capsule), where, and the body that means healthy.
Poller = Callable[[Unit, PollTarget, str], Awaitable[PollVerdict | None]]


@dataclass
class MemberPoller:
    """Asks the member's host to poll it; None when the host cannot be asked (a host that is
    down is the heartbeat's business, not the poll's)."""

    sessions: Sessions
    hostcalls: HostCalls

    async def __call__(self, unit: Unit, target: PollTarget, expected: str) -> PollVerdict | None:
        engine_id = unit.engine_id if isinstance(unit, CapsuleUnit) else unit.container_id
        if unit.host_uuid is None or engine_id is None:
            return None
        async with self.sessions() as session:
            host = await HostRepository(session).find(unit.host_uuid)
        if host is None:
            return None
        probe = {"ip": target.ip, "port": target.port, "path": target.path,
                 "expected": expected, "timeout": POLL_TIMEOUT}  # fmt: skip
        try:
            verdict = await self.hostcalls.probe_http(host, engine_id, probe)
        except Invalid as exc:  # not the member's address (any more): it does not answer there
            return PollVerdict(False, False, exc.text)
        except DockyardError as exc:
            log.info("polling member %s: its host was not asked: %s", unit.uuid, exc.text)
            return None
        return PollVerdict(
            bool(verdict.get("healthy")), bool(verdict.get("connected")),
            str(verdict.get("reason") or ""),
        )  # fmt: skip
