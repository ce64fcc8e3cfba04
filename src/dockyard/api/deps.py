"""Request-scoped dependencies: context, microversion, services, parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from dockyard.api.compat import MIN_VERSION, APIVersion, parse_bool, parse_int
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import (
    InvalidValue,
    MethodNotAllowedInVersion,
    Unauthenticated,
    UnsupportedMediaType,
)
from dockyard.services import policy
from dockyard.services.stack import Services


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


def context(request: Request) -> RequestContext:
    """The caller, as api/auth/middleware.py authenticated it for this request."""
    ctx = getattr(request.state, "context", None)
    if not isinstance(ctx, RequestContext):  # a public or agent route asked for a caller
        raise Unauthenticated()
    return ctx


def api_version(request: Request) -> APIVersion:
    version: APIVersion | None = getattr(request.state, "api_version", None)
    return version or APIVersion(*MIN_VERSION)


def require_version(
    request: Request, major: int, minor: int, until: tuple[int, int] | None = None
) -> None:
    """406 unless the request's microversion is in [major.minor, until]."""
    version = api_version(request)
    if not version.at_least(major, minor) or (until and (version.major, version.minor) > until):
        raise MethodNotAllowedInVersion(version=str(version))


def base_url(request: Request) -> str:
    configured = services(request).settings.api.public_url
    return configured.rstrip("/") if configured else str(request.base_url).rstrip("/")


async def json_body(request: Request, *, required: bool) -> dict[str, Any]:
    """The JSON object body; 415 for another content type, 400 when malformed."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise InvalidValue("A JSON request body is required.")
        return {}
    content_type = request.headers.get("content-type", "")
    if required and "json" not in content_type:
        raise UnsupportedMediaType()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidValue(f"Malformed JSON in request body: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidValue("The request body must be a JSON object.")
    return body


async def params(request: Request) -> dict[str, Any]:
    """Query parameters merged with a JSON body's top-level keys (the body wins), like Pecan."""
    merged: dict[str, Any] = dict(request.query_params)
    if request.method != "GET":
        merged.update(await json_body(request, required=False))
    return merged


@dataclass(frozen=True)
class Page:
    """The paging and scope parameters every list takes (Zun §4)."""

    limit: int
    marker: str | None
    sort_key: str
    sort_dir: str
    all_projects: bool


def page(request: Request, all_projects_rule: str) -> Page:
    """Parse limit/marker/sort_key/sort_dir/all_projects; all_projects needs the given rule."""
    query = request.query_params
    max_limit = services(request).settings.api.max_limit
    limit = min(parse_int(query.get("limit", max_limit), "limit", minimum=1), max_limit)
    sort_dir = query.get("sort_dir", "asc")
    if sort_dir not in ("asc", "desc"):
        raise InvalidValue(f"Invalid sort direction {sort_dir}: use 'asc' or 'desc'.")
    all_projects = parse_bool(query.get("all_projects", False), "all_projects")
    if all_projects:
        policy.authorize(context(request), all_projects_rule)
    return Page(limit, query.get("marker"), query.get("sort_key", "id"), sort_dir, all_projects)
