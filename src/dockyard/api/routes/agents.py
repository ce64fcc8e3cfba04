"""/agent/v1: the API agents use to join, heartbeat, watch and report (not Zun).

Joining (`POST /hosts`) takes the deployment's join token; every other call takes the
credential of the host named in the path: no credential, or an unknown one, is a 401; the
credential of another host is a 403. Neither secret is ever echoed or logged.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from dockyard.api import deps
from dockyard.api.compat import parse_bool, parse_int
from dockyard.errors import Unauthenticated
from dockyard.schemas.agent import (
    AssignmentBatch,
    Heartbeat,
    HostRegistered,
    HostRegistration,
    ReportBatch,
)
from dockyard.services.credentials import same_secret

router = APIRouter(prefix="/agent/v1")


def _bearer(request: Request) -> str:
    return request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def _check_join_token(request: Request) -> None:
    expected = deps.services(request).settings.agent.join_token
    given = _bearer(request)
    if expected is None or not given or not same_secret(given, expected.get_secret_value()):
        raise Unauthenticated("A valid join token is required to register a host.")


def _credential(request: Request) -> str:
    credential = _bearer(request)
    if not credential:
        raise Unauthenticated("A host credential is required.")
    return credential


async def _authenticate(request: Request, host_uuid: str) -> None:
    await deps.services(request).hosts.authenticate(host_uuid, _credential(request))


@router.post("/hosts")
async def register(request: Request, body: HostRegistration) -> HostRegistered:
    _check_join_token(request)
    return await deps.services(request).hosts.register(body)


@router.put("/hosts/{host_uuid}")
async def refresh(request: Request, host_uuid: str, body: HostRegistration) -> HostRegistered:
    await _authenticate(request, host_uuid)
    return await deps.services(request).hosts.refresh(host_uuid, body)


@router.post("/hosts/{host_uuid}/credential")
async def rotate_credential(request: Request, host_uuid: str) -> HostRegistered:
    await _authenticate(request, host_uuid)
    return await deps.services(request).hosts.rotate(host_uuid)


@router.post("/hosts/{host_uuid}/heartbeat", status_code=204)
async def heartbeat(request: Request, host_uuid: str, body: Heartbeat | None = None) -> Response:
    await _authenticate(request, host_uuid)
    observed = body.cpu_observed if body is not None else None
    await deps.services(request).hosts.heartbeat(host_uuid, observed)
    return Response(status_code=204)


@router.get("/hosts/{host_uuid}/assignments")
async def assignments(request: Request, host_uuid: str) -> AssignmentBatch:
    # The service checks the credential in its first read of the host (one session fewer
    # on every long-poll); a bad parameter is answered after the check, as on every route.
    credential = _credential(request)
    try:
        since = parse_int(request.query_params.get("since", 0), "since", minimum=0)
        wait = min(float(request.query_params.get("wait", 0)), 60.0)
        full = parse_bool(request.query_params.get("full", False), "full")
    except Exception:
        await _authenticate(request, host_uuid)
        raise
    hosts = deps.services(request).hosts
    return await hosts.assignments(host_uuid, since, wait, full=full, credential=credential)


@router.post("/hosts/{host_uuid}/reports", status_code=204)
async def reports(request: Request, host_uuid: str, body: ReportBatch) -> Response:
    # Checked in the apply's own transaction, first: one session fewer per report.
    await deps.services(request).hosts.apply_reports(host_uuid, body, _credential(request))
    return Response(status_code=204)
