"""The agent's host API: logs, exec, top, stats, kill and more, called by the control plane only."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dockyard import errors
from dockyard.agent.hostapi_files import file_routes
from dockyard.agent.hostapi_images import image_routes
from dockyard.agent.hostapi_probe import probe_routes
from dockyard.agent.hostapi_volumes import volume_routes
from dockyard.agent.hoststreams import stream_routes
from dockyard.runtime.base import ContainerRuntime
from dockyard.runtime.terminals import Terminals

Handler = Callable[[Request], Awaitable[Response]]


def create_host_api(
    hosts: Mapping[str, tuple[ContainerRuntime, str]],
    terminals: Mapping[str, Terminals] | None = None,
    namespaced: Collection[str] = (),
) -> Starlette:
    """A Starlette app for the hosts of this process: name → (runtime, secret), the
    terminals (exec with a TTY, attach) of those hosts whose engine has them, and the names
    of the hosts whose containers have network namespaces of their own (real engines: the
    health probe runs in them).

    One host is served at the root (`/containers/…`); several (hollow hosts) each under
    `/hosts/<name>/containers/…`. Every call must carry `Authorization: Bearer <secret>` of
    the host it addresses; each host has its own secret.
    """
    single = next(iter(hosts)) if len(hosts) == 1 else None

    def host_of(request: HTTPConnection) -> tuple[ContainerRuntime, str] | None:
        return hosts.get(request.path_params.get("host", single or ""))

    def authorized(conn: HTTPConnection) -> bool:
        found = host_of(conn)
        given = conn.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return found is not None and hmac.compare_digest(given.encode(), found[1].encode())

    def terminals_of(conn: HTTPConnection) -> Terminals | None:
        return (terminals or {}).get(conn.path_params.get("host", single or ""))

    def probing(conn: HTTPConnection) -> bool:
        return conn.path_params.get("host", single or "") in namespaced

    def guarded(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            found = host_of(request)
            if found is None or not authorized(request):
                return JSONResponse({"detail": "bad agent token"}, status_code=401)
            request.state.runtime = found[0]
            try:
                return await handler(request)
            except errors.RuntimeNotFound as exc:
                return JSONResponse({"detail": exc.text}, status_code=404)
            except (errors.RuntimeConflict, errors.ExecTimeout) as exc:
                status = 504 if isinstance(exc, errors.ExecTimeout) else 409
                return JSONResponse({"detail": exc.text}, status_code=status)
            except errors.Invalid as exc:
                return JSONResponse({"detail": exc.text}, status_code=400)
            except errors.DockyardError as exc:
                return JSONResponse({"detail": exc.text}, status_code=500)

        return endpoint

    async def logs(request: Request) -> Response:
        query = request.query_params
        since = query.get("since")
        data = await asyncio.to_thread(
            _runtime(request).logs,
            request.path_params["engine_id"],
            stdout=query.get("stdout", "true").lower() == "true",
            stderr=query.get("stderr", "true").lower() == "true",
            tail=int(query["tail"]) if "tail" in query else None,
            since=datetime.fromtimestamp(float(since), UTC) if since else None,
            timestamps=query.get("timestamps", "false").lower() == "true",
        )
        return Response(data, media_type="application/octet-stream")

    async def execute(request: Request) -> Response:
        body = await request.json()
        result = await asyncio.to_thread(
            _runtime(request).exec, request.path_params["engine_id"], list(body["command"]),
            float(body.get("timeout", 60)),
        )  # fmt: skip
        output = result.output.decode("utf-8", errors="replace")
        return JSONResponse({"output": output, "exit_code": result.exit_code})

    async def top(request: Request) -> Response:
        ps_args = request.query_params.get("ps_args")
        try:
            result = await asyncio.to_thread(
                _runtime(request).top, request.path_params["engine_id"], ps_args
            )
        except errors.RuntimeFailure as exc:
            if not ps_args:
                raise
            # The engine runs ps with the caller's arguments and answers 500 when ps refuses
            # them: that is the caller's input, so a 400.
            raise errors.InvalidValue(f"ps_args {ps_args!r} rejected: {exc.text}") from exc
        return JSONResponse({"Titles": result.titles, "Processes": result.processes})

    async def stats(request: Request) -> Response:
        sample = await asyncio.to_thread(_runtime(request).stats, request.path_params["engine_id"])
        return JSONResponse(zun_stats(request.path_params["engine_id"], sample))

    async def kill(request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        await asyncio.to_thread(
            _runtime(request).kill, request.path_params["engine_id"], body.get("signal")
        )
        return Response(status_code=204)

    host_prefix = "" if single is not None else "/hosts/{host}"
    prefix = host_prefix + "/containers/{engine_id}"
    return Starlette(
        routes=[
            *image_routes(host_prefix, guarded),
            *file_routes(prefix, guarded),
            *stream_routes(prefix, guarded, authorized, terminals_of),
            *volume_routes(host_prefix, guarded),
            *probe_routes(prefix, guarded, probing),
            Route(f"{prefix}/logs", guarded(logs), methods=["GET"]),
            Route(f"{prefix}/exec", guarded(execute), methods=["POST"]),
            Route(f"{prefix}/top", guarded(top), methods=["GET"]),
            Route(f"{prefix}/stats", guarded(stats), methods=["GET"]),
            Route(f"{prefix}/kill", guarded(kill), methods=["POST"]),
        ]
    )


def _runtime(request: Request) -> ContainerRuntime:
    runtime: ContainerRuntime = request.state.runtime
    return runtime


def zun_stats(engine_id: str, sample: dict[str, Any]) -> dict[str, Any]:
    """Docker's stats document in Zun's shape (what `zun stats` prints)."""
    mib = 1024 * 1024
    memory = sample.get("memory_stats") or {}
    usage = float(memory.get("usage", 0))
    limit = float(memory.get("limit", 0))
    cpu, precpu = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    cpu_delta = _total(cpu) - _total(precpu)
    system_delta = float(cpu.get("system_cpu_usage", 0)) - float(precpu.get("system_cpu_usage", 0))
    online = float(cpu.get("online_cpus") or 1)
    cpu_percent = cpu_delta / system_delta * online * 100 if system_delta > 0 else 0.0
    blk = (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    read = sum(int(e.get("value", 0)) for e in blk if str(e.get("op", "")).lower() == "read")
    write = sum(int(e.get("value", 0)) for e in blk if str(e.get("op", "")).lower() == "write")
    networks = sample.get("networks") or {}
    rx = sum(int(n.get("rx_bytes", 0)) for n in networks.values())
    tx = sum(int(n.get("tx_bytes", 0)) for n in networks.values())
    return {
        "CONTAINER": engine_id,
        "CPU %": round(cpu_percent, 2),
        "MEM USAGE(MiB)": round(usage / mib, 2),
        "MEM LIMIT(MiB)": round(limit / mib, 2),
        "MEM %": round(usage / limit * 100, 2) if limit else 0.0,
        "BLOCK I/O(B)": f"{read}/{write}",
        "NET I/O(B)": f"{rx}/{tx}",
    }


def _total(cpu_stats: dict[str, Any]) -> float:
    return float((cpu_stats.get("cpu_usage") or {}).get("total_usage", 0))
