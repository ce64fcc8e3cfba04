"""/v1/quotas and /v1/quota_classes: Zun's limits per project and per class (any version)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from dockyard.api import deps
from dockyard.api.views import quota_view
from dockyard.errors import SchemaValidationError
from dockyard.schemas.problems import problems_line
from dockyard.schemas.quotas import QuotaUpdate
from dockyard.services.quotas import QuotaService

router = APIRouter(prefix="/v1")


def _service(request: Request) -> QuotaService:
    return deps.services(request).quotas


async def parse_limits(request: Request) -> dict[str, int]:
    """The limits of a PUT: JSON body keys and query parameters merged, as Pecan does."""
    try:
        return QuotaUpdate.model_validate(await deps.params(request)).limits()
    except ValidationError as exc:
        raise SchemaValidationError(problems_line(exc.errors())) from None


@router.get("/quotas/{project_id}")
async def get_quota(request: Request, project_id: str) -> JSONResponse:
    # Zun takes `usages` as a Python truth value: any non-empty value (even "false") asks.
    usages = bool(request.query_params.get("usages"))
    quota = await _service(request).get(deps.context(request), project_id, usages=usages)
    in_use = quota.in_use.shown() if quota.in_use is not None else None
    return JSONResponse(quota_view(quota.limits, in_use))


@router.put("/quotas/{project_id}")
async def update_quota(request: Request, project_id: str) -> JSONResponse:
    limits = await parse_limits(request)
    result = await _service(request).update(deps.context(request), project_id, limits)
    return JSONResponse(quota_view(result))


@router.delete("/quotas/{project_id}")
async def delete_quota(request: Request, project_id: str) -> JSONResponse:
    await _service(request).delete(deps.context(request), project_id)
    return JSONResponse(None)  # Zun's controller returns None, which Pecan sends as 200 null


@router.get("/quotas/{project_id}/defaults")
async def quota_defaults(request: Request, project_id: str) -> JSONResponse:
    limits = await _service(request).defaults(deps.context(request), project_id)
    return JSONResponse(quota_view(limits))


@router.get("/quota_classes/{class_name}")
async def get_quota_class(request: Request, class_name: str) -> JSONResponse:
    limits = await _service(request).get_class(deps.context(request), class_name)
    return JSONResponse(quota_view(limits))


@router.put("/quota_classes/{class_name}")
async def update_quota_class(request: Request, class_name: str) -> JSONResponse:
    limits = await parse_limits(request)
    result = await _service(request).update_class(deps.context(request), class_name, limits)
    return JSONResponse(quota_view(result))
