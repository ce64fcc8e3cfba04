"""/v1/containers/{id}/<action>: lifecycle actions, logs, execute, top, stats (Zun v1)."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dockyard.api import deps
from dockyard.api.compat import MAX_INT, parse_bool, parse_epoch, parse_int, parse_signal
from dockyard.api.routes import streams
from dockyard.api.routes.containers import render_one, validation_message
from dockyard.errors import InvalidValue, SchemaValidationError
from dockyard.schemas.containers import ContainerUpdate

router = APIRouter(prefix="/v1/containers/{ident}")


def _recorded(request: Request, action: str, ident: str) -> AbstractAsyncContextManager[Any]:
    """Record the request as a container action (services/actions.py)."""
    return deps.services(request).actions.recorded(deps.context(request), action, ident)


def _accepted() -> Response:
    return Response(status_code=202)


def _timeout(query: dict[str, Any]) -> int | None:
    value = query.get("timeout")
    return None if value in (None, "") else parse_int(value, "timeout", minimum=0, maximum=MAX_INT)


@router.post("/start")
async def start(request: Request, ident: str) -> Response:
    async with _recorded(request, "start", ident):
        await deps.services(request).containers.start(deps.context(request), ident)
    return _accepted()


@router.post("/stop")
async def stop(request: Request, ident: str) -> Response:
    query = await deps.params(request)
    async with _recorded(request, "stop", ident):
        await deps.services(request).containers.stop(deps.context(request), ident, _timeout(query))
    return _accepted()


@router.post("/reboot")
async def reboot(request: Request, ident: str) -> Response:
    query = await deps.params(request)
    async with _recorded(request, "reboot", ident):
        await deps.services(request).containers.reboot(
            deps.context(request), ident, _timeout(query)
        )
    return _accepted()


@router.post("/pause")
async def pause(request: Request, ident: str) -> Response:
    async with _recorded(request, "pause", ident):
        await deps.services(request).containers.pause(deps.context(request), ident)
    return _accepted()


@router.post("/unpause")
async def unpause(request: Request, ident: str) -> Response:
    async with _recorded(request, "unpause", ident):
        await deps.services(request).containers.unpause(deps.context(request), ident)
    return _accepted()


@router.post("/kill")
async def kill(request: Request, ident: str) -> Response:
    query = await deps.params(request)
    signal = parse_signal(query.get("signal"))
    async with _recorded(request, "kill", ident):
        await deps.services(request).operations.kill(deps.context(request), ident, signal)
    return _accepted()


@router.post("/rename")
async def rename(request: Request, ident: str) -> JSONResponse:
    deps.require_version(request, 1, 1, until=(1, 13))
    query = await deps.params(request)
    if not query.get("name"):
        raise InvalidValue("name is required.")
    try:
        patch = ContainerUpdate.model_validate({"name": query["name"]})
    except ValidationError as exc:
        raise SchemaValidationError(validation_message(exc)) from None
    async with _recorded(request, "update", ident):
        row = await deps.services(request).containers.update(deps.context(request), ident, patch)
    return await render_one(request, row)


LOGS_PARAMS = {"stdout", "stderr", "timestamps", "tail", "since", "follow"}


@router.get("/logs")
async def logs(request: Request, ident: str) -> Response:
    query = dict(request.query_params)
    unknown = sorted(set(query) - LOGS_PARAMS)
    if unknown:
        raise InvalidValue(f"Unknown parameters: {', '.join(unknown)}")
    if parse_bool(query.get("follow", False), "follow"):
        tail = query.get("tail", "all")
        lines = None if str(tail).lower() in ("all", "-1") else parse_int(tail, "tail", minimum=0)
        return await streams.follow_logs(request, ident, lines)
    params: dict[str, Any] = {
        "stdout": parse_bool(query.get("stdout", True), "stdout"),
        "stderr": parse_bool(query.get("stderr", True), "stderr"),
        "timestamps": parse_bool(query.get("timestamps", False), "timestamps"),
    }
    tail = query.get("tail", "all")
    if str(tail).lower() not in ("all", "-1"):
        params["tail"] = parse_int(tail, "tail", minimum=0)
    since = _since(query["since"]) if query.get("since") else 0.0
    if since > 0:  # since the epoch is everything: no filter (the engine rejects 0)
        params["since"] = since
    text = await deps.services(request).operations.logs(deps.context(request), ident, params)
    return JSONResponse(text)


def _since(value: str) -> float:
    """Epoch seconds from an epoch number or Zun's 'YYYY-mm-dd HH:MM:SS,fff'."""
    try:
        return parse_epoch(float(value), "since")
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d %H:%M:%S,%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return parse_epoch(datetime.strptime(value, fmt).timestamp(), "since")
        except ValueError:
            continue
    raise InvalidValue(f"Invalid since {value!r}: use epoch seconds or 'YYYY-mm-dd HH:MM:SS,fff'.")


@router.post("/execute")
async def execute(request: Request, ident: str) -> JSONResponse:
    query = await deps.params(request)
    command = query.get("command")
    if not command or not isinstance(command, str):
        raise InvalidValue("command is required (a string).")
    run = parse_bool(query.get("run", True), "run")
    interactive = parse_bool(query.get("interactive", False), "interactive")
    if not run:  # as Zun: run=true runs to the end, whatever interactive says
        return await streams.interactive_execute(request, ident, command, interactive)
    async with _recorded(request, "exec_cmd", ident):
        svc = deps.services(request).operations
        result = await svc.execute(deps.context(request), ident, command)
    return JSONResponse(
        {
            "output": result.get("output", ""),
            "exit_code": result.get("exit_code"),
            "exec_id": result.get("exec_id"),
            "proxy_url": None,
        }
    )


@router.get("/top")
async def top(request: Request, ident: str) -> JSONResponse:
    ps_args = request.query_params.get("ps_args") or None
    if ps_args == "None":  # python-zunclient sends its default, None, as the string "None"
        ps_args = None
    result = await deps.services(request).operations.top(deps.context(request), ident, ps_args)
    return JSONResponse(result)


@router.get("/stats")
async def stats(request: Request, ident: str) -> JSONResponse:
    sample = await deps.services(request).operations.stats(deps.context(request), ident)
    return JSONResponse(sample)
