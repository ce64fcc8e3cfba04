"""/v1/containers: create, list, show, update, delete (Zun v1)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dockyard.api import deps
from dockyard.api.compat import MAX_INT, next_link, parse_bool, parse_int
from dockyard.api.views import container_view, hidden_container_fields
from dockyard.domain.containers import Status
from dockyard.domain.records import ContainerRecord
from dockyard.errors import InvalidParamInVersion, InvalidValue, SchemaValidationError
from dockyard.schemas.containers import FIELD_MIN_VERSION, ContainerCreate, ContainerUpdate
from dockyard.schemas.problems import problems_line
from dockyard.schemas.volumes import check_mounts_version
from dockyard.services import policy
from dockyard.services.actions import Recording

router = APIRouter(prefix="/v1/containers")

LIST_FILTERS = (
    "name", "image", "project_id", "user_id", "memory", "host", "task_state", "status",
    "auto_remove",
)  # fmt: skip
LIST_PARAMS = {"limit", "marker", "sort_key", "sort_dir", "all_projects", *LIST_FILTERS}
DELETE_PARAMS = {"force", "stop", "all_projects"}


def validation_message(exc: ValidationError) -> str:
    """One readable line per problem: 'field: message'."""
    return problems_line(exc.errors())


async def render(request: Request, rows: Sequence[ContainerRecord]) -> list[dict[str, Any]]:
    svc = deps.services(request).containers
    ctx = deps.context(request)
    hostnames = await svc.host_names({r.host_uuid for r in rows if r.host_uuid})
    down = await svc.hosts_down()
    base = deps.base_url(request)
    hidden = hidden_container_fields(ctx)
    api_version = deps.api_version(request)
    version = (api_version.major, api_version.minor)
    return [
        container_view(
            r, ctx, base, version=version, hostnames=hostnames, down_hosts=down, hidden=hidden
        )
        for r in rows
    ]


async def render_one(request: Request, row: ContainerRecord, status: int = 200) -> JSONResponse:
    (view,) = await render(request, [row])
    return JSONResponse(view, status_code=status)


def parse_create(request: Request, body: dict[str, Any]) -> ContainerCreate:
    version = deps.api_version(request)
    for field, (major, minor) in FIELD_MIN_VERSION.items():
        if field in body and not version.at_least(major, minor):
            raise InvalidParamInVersion(param=field, req_version=str(version))
    check_mounts_version(body.get("mounts"), (version.major, version.minor))
    try:
        spec = ContainerCreate.model_validate(body)
    except ValidationError as exc:
        raise SchemaValidationError(validation_message(exc)) from None
    if isinstance(spec.command, str) and not version.at_least(1, 20):
        try:  # before 1.20 the server splits a string command like a shell would
            shlex.split(spec.command)
        except ValueError as exc:
            raise SchemaValidationError(f"command: {exc}") from None
    return spec


@router.post("")
async def create_container(request: Request) -> Response:
    body = await deps.json_body(request, required=True)
    spec = parse_create(request, body)
    run = parse_bool(request.query_params.get("run", False), "run")
    legacy = not deps.api_version(request).at_least(1, 20)
    ctx = deps.context(request)
    recording = Recording("create", None, event="api_create")  # written with the container
    row = await deps.services(request).containers.create(
        ctx, spec, run=run, legacy_command=legacy, recording=recording
    )
    response = await render_one(request, row, status=202)
    response.headers["Location"] = f"{deps.base_url(request)}/v1/containers/{row.uuid}"
    return response


@router.get("")
async def list_containers(request: Request) -> JSONResponse:
    query = dict(request.query_params)
    unknown = sorted(set(query) - LIST_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    paging = deps.page(request, "container:get_all_all_projects")
    limit, sort_key, sort_dir = paging.limit, paging.sort_key, paging.sort_dir
    ctx = deps.context(request)
    filters = await _filters(request, query)
    rows = await deps.services(request).containers.list(
        ctx, filters, limit=limit, marker=paging.marker, sort_key=sort_key,
        sort_dir=sort_dir, all_projects=paging.all_projects,
    )  # fmt: skip
    views = await render(request, rows)
    next_url = next_link(deps.base_url(request), "containers", views, limit, (sort_key, sort_dir))
    return JSONResponse({"containers": views, "next": next_url})


async def _filters(request: Request, query: dict[str, str]) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    for key in LIST_FILTERS:
        if key not in query:
            continue
        value: Any = query[key]
        if key == "memory":
            value = parse_int(value, "memory", maximum=MAX_INT)
        elif key == "auto_remove":
            value = parse_bool(value, "auto_remove")
        elif key == "host":
            policy.authorize(deps.context(request), "container:get_one:host")
            host = await deps.services(request).hosts.find(value)
            key, value = "host_uuid", host.uuid if host else "-"
        filters[key] = value
    return filters


@router.get("/{ident}")
async def show_container(request: Request, ident: str) -> JSONResponse:
    """Show a container. Dockyard extension: `wait_status=Running,Error` (with
    `wait_timeout` seconds, at most 60) answers once the status is one of those, or at the
    timeout with the container as it is — a watch instead of a polling loop."""
    query = request.query_params
    all_projects = parse_bool(query.get("all_projects", False), "all_projects")
    svc, ctx = deps.services(request).containers, deps.context(request)
    if query.get("wait_status"):
        statuses = _statuses(query["wait_status"])
        timeout = min(parse_int(query.get("wait_timeout", 30), "wait_timeout", minimum=0), 60)
        row = await svc.wait_for_status(ctx, ident, statuses, float(timeout), all_projects)
    else:
        row = await svc.shown(ctx, ident, all_projects)
    return await render_one(request, row)


def _statuses(text: str) -> frozenset[str]:
    wanted = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = sorted(wanted - {s.value for s in Status})
    if unknown or not wanted:
        raise InvalidValue(f"Invalid wait_status {text!r}: use statuses such as Running,Error.")
    return wanted


@router.patch("/{ident}")
async def update_container(request: Request, ident: str) -> JSONResponse:
    body = await deps.json_body(request, required=True)
    try:
        patch = ContainerUpdate.model_validate(body)
    except ValidationError as exc:
        raise SchemaValidationError(validation_message(exc)) from None
    if not body:
        raise InvalidValue("Nothing to update: give name, cpu, memory or auto_heal.")
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "update", ident):
        row = await deps.services(request).containers.update(ctx, ident, patch)
    return await render_one(request, row)


@router.delete("/{ident}", status_code=204)
async def delete_container(request: Request, ident: str) -> Response:
    query = await deps.params(request)
    unknown = sorted(set(query) - DELETE_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    force = parse_bool(query.get("force", False), "force")
    stop = parse_bool(query.get("stop", False), "stop")
    all_projects = parse_bool(query.get("all_projects", False), "all_projects")
    version = deps.api_version(request)
    if stop and not version.at_least(1, 12):
        raise InvalidParamInVersion(param="stop", req_version=str(version))
    ctx = deps.context(request)
    async with deps.services(request).actions.recorded(ctx, "delete", ident):
        await deps.services(request).containers.delete(
            ctx, ident, force=force, stop=stop, all_projects=all_projects
        )
    return Response(status_code=204)
