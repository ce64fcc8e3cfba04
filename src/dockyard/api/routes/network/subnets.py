"""/v2.0/subnets: address ranges of networks (from a CIDR, or carved from a subnet pool)."""

from __future__ import annotations

from dockyard.api.routes.network.collection import Collection, collection_router
from dockyard.schemas.networks import SubnetCreate, SubnetUpdate
from dockyard.services.netviews import subnet_view
from dockyard.services.networks import NetworkService

router = collection_router(
    Collection(
        plural="subnets",
        member="subnet",
        view=subnet_view,
        create_model=SubnetCreate,
        update_model=SubnetUpdate,
        list_rows=NetworkService.list_subnets,
        get_row=NetworkService.get_subnet,
        create_row=NetworkService.create_subnet,
        update_row=NetworkService.update_subnet,
        delete_row=NetworkService.delete_subnet,
    )
)
