"""create_app(settings): the control plane's ASGI application."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI

from dockyard.api import errors
from dockyard.api.auth import create_authenticator
from dockyard.api.auth.middleware import AuthMiddleware
from dockyard.api.auth.routepolicy import enforce as enforce_route_policy
from dockyard.api.compat import ZunCompatMiddleware
from dockyard.api.routes import (
    actions,
    agents,
    capsules,
    container_actions,
    container_changes,
    container_files,
    container_networks,
    containers,
    hosts,
    images,
    networks,
    quotas,
    registries,
    root,
    sandboxes,
    services,
    streams,
    volumes,
)
from dockyard.api.routes.cluster.app import create_cluster_app
from dockyard.api.routes.cluster.wire import PREFIX as CLUSTER_PREFIX
from dockyard.api.routes.network.app import create_network_app
from dockyard.api.routes.network.wire import PREFIX as NETWORK_PREFIX
from dockyard.client.hostapi import HostApiClient
from dockyard.client.hoststreams import HostStreamClient
from dockyard.scheduler.placement import resolve
from dockyard.services.policy import load_policy
from dockyard.services.stack import open_services
from dockyard.settings import Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """The control plane: Zun v1 API and agent API.

    Raises ConfigError when the auth settings, tokens file, policy file or scheduler
    filters/weigher are unusable.
    """
    rules = load_policy(settings.auth.policy_file)
    resolve(settings.scheduler.filters, settings.scheduler.weigher)  # fail at start, not later
    authenticator = create_authenticator(settings.auth)
    log.info(
        "auth backend %s; policy %s",
        settings.auth.backend,
        settings.auth.policy_file or "defaults",
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hostcalls = HostApiClient()
        hoststreams = HostStreamClient()
        try:
            async with open_services(settings, hostcalls, hoststreams=hoststreams) as opened:
                app.state.wakeups = opened.wakeups
                app.state.services = opened
                # What start-up made (modules, the app, ORM mappings: ~100k objects) lives as
                # long as the process; frozen, the full collections no longer walk it on every
                # request burst.
                gc.freeze()
                yield
        finally:
            await hoststreams.close()
            await hostcalls.close()
            await authenticator.close()

    app = FastAPI(
        title="Dockyard",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # not part of the Zun API
        dependencies=[Depends(enforce_route_policy)],
    )
    errors.install(app)
    routers = (
        root, containers, container_actions, actions, hosts, services, agents, sandboxes,
        quotas, capsules, images, registries, container_files, container_changes, streams,
        networks, volumes, container_networks,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router)
    # Senlin's clustering API: its own version document, microversion and error format.
    app.mount(CLUSTER_PREFIX, create_cluster_app(app))
    # Neutron's v2.0 subset (networks, subnets, pools, ports, security groups), likewise.
    app.mount(NETWORK_PREFIX, create_network_app(app))
    # Added first, so it runs inside ZunCompatMiddleware, which assigns the request id.
    app.add_middleware(AuthMiddleware, authenticator=authenticator, rules=rules)
    app.add_middleware(ZunCompatMiddleware)
    return app
