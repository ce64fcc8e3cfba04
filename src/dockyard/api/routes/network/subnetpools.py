"""/v2.0/subnetpools: prefixes subnets are carved from."""

from __future__ import annotations

from dockyard.api.routes.network.collection import Collection, collection_router
from dockyard.schemas.networks import SubnetPoolCreate, SubnetPoolUpdate
from dockyard.services.netviews import subnetpool_view
from dockyard.services.networks import NetworkService

router = collection_router(
    Collection(
        plural="subnetpools",
        member="subnetpool",
        view=subnetpool_view,
        create_model=SubnetPoolCreate,
        update_model=SubnetPoolUpdate,
        list_rows=NetworkService.list_pools,
        get_row=NetworkService.get_pool,
        create_row=NetworkService.create_pool,
        update_row=NetworkService.update_pool,
        delete_row=NetworkService.delete_pool,
    )
)
