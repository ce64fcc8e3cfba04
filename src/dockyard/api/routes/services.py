"""/v1/services and /v1/availability_zones: Zun's compute services (admin) and zones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.api.compat import parse_bool
from dockyard.api.views import service_view
from dockyard.errors import InvalidValue
from dockyard.services.scheduling import is_host_up

router = APIRouter(prefix="/v1")


@router.get("/services")
async def list_services(request: Request) -> JSONResponse:
    rows, _ = await deps.services(request).admin.list_hosts()
    settings = deps.services(request).settings.scheduler
    return JSONResponse({"services": [service_view(r, is_host_up(r, settings)) for r in rows]})


async def _target(request: Request) -> tuple[dict[str, Any], str, str]:
    """The merged query/body parameters and their host and binary (Zun accepts either)."""
    given = await deps.params(request)
    host, binary = given.get("host"), given.get("binary")
    if not isinstance(host, str) or not host or not isinstance(binary, str) or not binary:
        raise InvalidValue("The host and binary parameters are required.")
    return given, host, binary


@router.delete("/services")
async def delete_service(request: Request) -> Response:
    _, host, binary = await _target(request)
    await deps.services(request).admin.remove(host, binary)
    return Response(status_code=200)


@router.put("/services/enable")
async def enable_service(request: Request) -> JSONResponse:
    _, host, binary = await _target(request)
    row = await deps.services(request).admin.set_disabled(host, binary, False, None)
    return _service_change(row.hostname, binary, disabled=row.disabled, disabled_reason=None)


@router.put("/services/disable")
async def disable_service(request: Request) -> JSONResponse:
    given, host, binary = await _target(request)
    reason = given.get("disabled_reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 255):
        raise InvalidValue("disabled_reason must be a string of at most 255 characters.")
    row = await deps.services(request).admin.set_disabled(host, binary, True, reason)
    return _service_change(row.hostname, binary, disabled=row.disabled, disabled_reason=reason)


@router.put("/services/force_down")
async def force_down_service(request: Request) -> JSONResponse:
    given, host, binary = await _target(request)
    forced_down = parse_bool(given.get("forced_down", True), "forced_down")
    row = await deps.services(request).admin.set_forced_down(host, binary, forced_down)
    return _service_change(row.hostname, binary, forced_down=row.forced_down)


def _service_change(host: str, binary: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"service": {"host": host, "binary": binary, **fields}})


@router.get("/availability_zones")
async def list_availability_zones(request: Request) -> JSONResponse:
    zones = await deps.services(request).admin.availability_zones()
    listed = [{"availability_zone": zone} for zone in zones]
    return JSONResponse({"availability_zones": listed, "next": None})
