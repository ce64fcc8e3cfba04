"""/agent/v1: the API agents use to register, heartbeat, watch and report (not Zun)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from dockyard.api import deps
from dockyard.api.compat import parse_bool, parse_int
from dockyard.errors import Unauthenticated
from dockyard.schemas.agent import AssignmentBatch, HostRegistered, HostRegistration, ReportBatch

router = APIRouter(prefix="/agent/v1")


def _authenticate(request: Request) -> None:
    expected = deps.services(request).settings.agent.agent_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if expected and not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated("A valid agent token is required.")


@router.post("/hosts")
async def register(request: Request, body: HostRegistration) -> HostRegistered:
    _authenticate(request)
    return await deps.services(request).hosts.register(body)


@router.post("/hosts/{host_uuid}/heartbeat", status_code=204)
async def heartbeat(request: Request, host_uuid: str) -> Response:
    _authenticate(request)
    await deps.services(request).hosts.heartbeat(host_uuid)
    return Response(status_code=204)


@router.get("/hosts/{host_uuid}/assignments")
async def assignments(request: Request, host_uuid: str) -> AssignmentBatch:
    _authenticate(request)
    since = parse_int(request.query_params.get("since", 0), "since", minimum=0)
    wait = min(float(request.query_params.get("wait", 0)), 60.0)
    full = parse_bool(request.query_params.get("full", False), "full")
    return await deps.services(request).hosts.assignments(host_uuid, since, wait, full=full)


@router.post("/hosts/{host_uuid}/reports", status_code=204)
async def reports(request: Request, host_uuid: str, body: ReportBatch) -> Response:
    _authenticate(request)
    await deps.services(request).hosts.apply_reports(host_uuid, body)
    return Response(status_code=204)
