"""/v1/containers/{id}/get_archive, put_archive and commit (Zun v1; `appcontainer cp`, `commit`).

The archive's `data` is base64 from microversion 1.25; before it, Zun sent the tar itself as
a JSON string, which only survives JSON when it is UTF-8 text: such a tar is refused with a
400 that names the microversion to use, rather than sent damaged.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from dockyard.api import deps
from dockyard.errors import InvalidValue

router = APIRouter(prefix="/v1/containers/{ident}")


def _is_base64(request: Request) -> bool:
    return deps.api_version(request).at_least(1, 25)


def _recorded(request: Request, action: str, ident: str) -> Any:
    return deps.services(request).actions.recorded(deps.context(request), action, ident)


@router.get("/get_archive")
async def get_archive(request: Request, ident: str) -> JSONResponse:
    path = request.query_params.get("path")
    files = deps.services(request).files
    data, stat = await files.get_archive(deps.context(request), ident, path or "")
    if _is_base64(request):
        return JSONResponse({"data": base64.b64encode(data).decode("ascii"), "stat": stat})
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidValue(
            f"{path} holds binary data, which microversions before 1.25 cannot carry; "
            "use microversion 1.25 or later (base64)."
        ) from None
    return JSONResponse({"data": text, "stat": stat})


@router.post("/put_archive")
async def put_archive(request: Request, ident: str) -> Response:
    query = await deps.params(request)
    data = _archive_data(query.get("data"), base64_data=_is_base64(request))
    async with _recorded(request, "put_archive", ident):
        files = deps.services(request).files
        await files.put_archive(deps.context(request), ident, query.get("path") or "", data)
    return Response(status_code=200)


def _archive_data(value: Any, *, base64_data: bool) -> bytes:
    if not isinstance(value, str) or not value:
        raise InvalidValue("data is required (a tar archive).")
    if not base64_data:
        return value.encode("utf-8")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue("data is not valid base64.") from None


@router.post("/commit")
async def commit(request: Request, ident: str) -> JSONResponse:
    query = await deps.params(request)
    repository, tag = query.get("repository"), query.get("tag")
    if not isinstance(repository, str) or not repository:
        raise InvalidValue("repository is required.")
    if tag is not None and (not isinstance(tag, str) or not tag):
        raise InvalidValue("tag must be a non-empty string.")
    async with _recorded(request, "commit", ident):
        image = await deps.services(request).files.commit(
            deps.context(request), ident, repository, tag
        )
    return JSONResponse({"uuid": image.uuid}, status_code=202)
