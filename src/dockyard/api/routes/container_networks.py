"""/v1/containers/{id}/network_attach|network_detach|network_list and add/remove_security_group
(Zun v1): a container's tenant networks and security groups."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.errors import InvalidValue
from dockyard.services.attachments import network_list_of

router = APIRouter(prefix="/v1/containers/{ident}")


async def _params(request: Request, allowed: set[str]) -> dict[str, str]:
    given = {k: str(v) for k, v in (await deps.params(request)).items()}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    return given


@router.post("/network_attach")
async def network_attach(request: Request, ident: str) -> Response:
    """Zun 1.8: `network` or `port`, and optionally `fixed_ip`; 200 with no body."""
    deps.require_version(request, 1, 8)
    given = await _params(request, {"network", "port", "fixed_ip"})
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "network_attach", ident):
        await deps.services(request).container_networks.attach(
            ctx, ident, given.get("network"), given.get("port"), given.get("fixed_ip")
        )
    return Response(status_code=200)


@router.post("/network_detach")
async def network_detach(request: Request, ident: str) -> Response:
    """Zun 1.6 (`port` from 1.17); 202."""
    deps.require_version(request, 1, 6)
    allowed = {"network", "port"} if deps.api_version(request).at_least(1, 17) else {"network"}
    given = await _params(request, allowed)
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "network_detach", ident):
        await deps.services(request).container_networks.detach(
            ctx, ident, given.get("network"), given.get("port")
        )
    return Response(status_code=202)


@router.get("/network_list")
async def network_list(request: Request, ident: str) -> JSONResponse:
    """Zun 1.13; one row per port with its fixed_ips from 1.18, one per address before."""
    deps.require_version(request, 1, 13)
    ports = await deps.services(request).container_networks.ports(deps.context(request), ident)
    new_shape = deps.api_version(request).at_least(1, 18)
    return JSONResponse({"networks": network_list_of(ports, new_shape)})


@router.post("/add_security_group")
async def add_security_group(request: Request, ident: str) -> Response:
    """Zun 1.1–1.14: `name` (a group name or id of the project) joins the container's."""
    deps.require_version(request, 1, 1, until=(1, 14))
    name = (await _params(request, {"name"})).get("name")
    if not name:
        raise InvalidValue("Give the security group's name.")
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "add_security_group", ident):
        await deps.services(request).container_networks.add_security_group(ctx, ident, name)
    return Response(status_code=202)


@router.post("/remove_security_group")
async def remove_security_group(request: Request, ident: str) -> Response:
    deps.require_version(request, 1, 1, until=(1, 14))
    name = (await _params(request, {"name"})).get("name")
    if not name:
        raise InvalidValue("Give the security group's name.")
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "remove_security_group", ident):
        await deps.services(request).container_networks.remove_security_group(ctx, ident, name)
    return Response(status_code=202)
