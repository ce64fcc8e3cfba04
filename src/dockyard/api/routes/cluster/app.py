"""create_cluster_app(parent): the clustering API, mounted by the control plane at /cluster."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI

from dockyard.api.routes.cluster import catalog, clusters, objects, rules
from dockyard.api.routes.cluster.wire import ClusteringVersionMiddleware, error_document, error_of
from dockyard.api.subapi import FaultFormat, create_subapi


def _http_fault(status: int, detail: str) -> bytes:
    kind = "ResourceNotFound" if status == 404 else HTTPStatus(status).phrase.replace(" ", "")
    return error_document(status, kind, detail)


FAULTS = FaultFormat(
    of_error=error_of,
    of_http=_http_fault,
    invalid=error_document(400, "BadRequest", "Invalid request."),
    internal=error_document(500, "InternalError", "The server could not handle the request."),
)


def create_cluster_app(parent: FastAPI) -> FastAPI:
    """Senlin's v1 API over Dockyard's containers; it reads the parent's services."""
    modules = (catalog, clusters, objects)
    app = create_subapi(
        parent, "Dockyard clustering", FAULTS, rules.enforce, [m.router for m in modules]
    )
    # Every answer, faults included, carries the negotiated clustering microversion.
    app.add_middleware(ClusteringVersionMiddleware)
    return app
