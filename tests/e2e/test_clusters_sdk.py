"""openstacksdk's clustering proxy (conn.clustering) against `dockyard serve`'s /cluster."""

from __future__ import annotations

from collections.abc import Iterator

import openstack
import pytest
from openstack.connection import Connection

from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE
from tests.support.wait import wait_for
from tests.support.zun import unique_name

pytestmark = [
    pytest.mark.engine,
    # openstacksdk 4.x warns about its own deprecations (its InfluxDB defaults, the clustering
    # resources' _compute_attributes): not about anything this test or Dockyard does.
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
]


@pytest.fixture
def conn(server: DockyardProcess) -> Iterator[Connection]:
    connection = openstack.connect(
        auth_type="none", auth={"endpoint": f"{server.url}/cluster"}, load_yaml_config=False,
        load_envvars=False,
    )  # fmt: skip
    yield connection
    connection.close()


def test_sdk_creates_lists_resizes_and_deletes_a_cluster(conn: Connection) -> None:
    name = unique_name("sdk")
    spec = {"type": "container.dockyard", "version": "1.0",
            "properties": {"image": TEST_IMAGE, "command": SLEEP_FOREVER, "cpu": 0.1}}  # fmt: skip
    profile = conn.clustering.create_profile(name=name, spec=spec)
    cluster = conn.clustering.create_cluster(name=name, profile_id=profile.id, desired_capacity=2)
    conn.clustering.wait_for_status(cluster, "ACTIVE", failures=["ERROR"], interval=1, wait=90)
    assert name in [c.name for c in conn.clustering.clusters()]
    assert len(list(conn.clustering.nodes(cluster_id=name))) == 2

    conn.clustering.resize_cluster(cluster, adjustment_type="EXACT_CAPACITY", number=1)

    def resized() -> bool:
        nodes = list(conn.clustering.nodes(cluster_id=cluster.id))
        shown = conn.clustering.get_cluster(cluster.id)
        return len(nodes) == 1 and shown.status == "ACTIVE"

    wait_for(resized, 90, 0.5, "the cluster to shrink to one member")
    conn.clustering.delete_cluster(cluster)  # reads the Location of the 202
    wait_for(lambda: conn.clustering.find_cluster(cluster.id) is None, 90, 0.5, "deletion")
    conn.clustering.delete_profile(profile)
    assert conn.clustering.find_profile(profile.id) is None
