"""create_network_app(parent): the Neutron v2.0 subset, mounted by the control plane at /network."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI

from dockyard.api.routes.network import (
    catalog,
    networks,
    ports,
    rules,
    security_groups,
    subnetpools,
    subnets,
)
from dockyard.api.routes.network.wire import error_document, error_of
from dockyard.api.subapi import FaultFormat, create_subapi


def _http_fault(status: int, detail: str) -> bytes:
    phrase = HTTPStatus(status).phrase
    text = "The resource could not be found." if status == 404 else phrase
    return error_document(f"HTTP{phrase.replace(' ', '')}", text)


FAULTS = FaultFormat(
    of_error=error_of,
    of_http=_http_fault,
    invalid=error_document("HTTPBadRequest", "Invalid request."),
    internal=error_document(
        "HTTPInternalServerError",
        "Request Failed: internal server error while processing your request.",
    ),
)


def create_network_app(parent: FastAPI) -> FastAPI:
    """Neutron's v2.0 API over Dockyard's networks; it reads the parent's services."""
    modules = (catalog, networks, subnets, subnetpools, ports, security_groups)
    return create_subapi(
        parent, "Dockyard networking", FAULTS, rules.enforce, [m.router for m in modules]
    )
