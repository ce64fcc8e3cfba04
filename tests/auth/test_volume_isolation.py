"""A volume belongs to its project: another project can neither see, mount nor delete it
(404, as Zun hides other projects' objects), and a refused mount makes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.auth.deployments import Deployment
from tests.support.testimage import TEST_IMAGE
from tests.support.zun import assert_zun_error, container_uuids, unique_name

NOT_FOUND = "container.volume-not-found"


@pytest.fixture
def alphas_volume(deployment: Deployment) -> Iterator[dict[str, Any]]:
    with deployment.client(deployment.alpha) as api:
        response = api.post("/v1/volumes", json={"volume": {"name": unique_name("alpha-vol")}})
        assert response.status_code == 201, response.text
        volume: dict[str, Any] = response.json()["volume"]
        yield volume
        assert api.delete(f"/v1/volumes/{volume['uuid']}").status_code == 204


@pytest.mark.parametrize("by", ["name", "uuid"])
def test_another_project_cannot_mount_a_volume(
    deployment: Deployment, alphas_volume: dict[str, Any], by: str
) -> None:
    with deployment.client(deployment.beta) as api:
        before = container_uuids(api)
        body = {
            "name": unique_name("thief"),
            "image": TEST_IMAGE,
            "mounts": [{"source": alphas_volume[by], "destination": "/stolen"}],
        }
        assert_zun_error(api.post("/v1/containers", json=body), 404, NOT_FOUND)
        assert container_uuids(api) == before
        assert_zun_error(api.get(f"/v1/volumes/{alphas_volume[by]}"), 404, NOT_FOUND)
        assert_zun_error(api.delete(f"/v1/volumes/{alphas_volume[by]}"), 404, NOT_FOUND)
        listed = api.get("/v1/volumes").json()["volumes"]
        assert alphas_volume["uuid"] not in [v["uuid"] for v in listed]
    with deployment.client(deployment.alpha) as api:
        shown = api.get(f"/v1/volumes/{alphas_volume['uuid']}").json()["volume"]
        assert shown["in_use"] is False


def test_the_same_name_in_two_projects_is_two_volumes(
    deployment: Deployment, alphas_volume: dict[str, Any]
) -> None:
    with deployment.client(deployment.beta) as api:
        mine = api.post("/v1/volumes", json={"volume": {"name": alphas_volume["name"]}})
        assert mine.status_code == 201, mine.text
        assert mine.json()["volume"]["uuid"] != alphas_volume["uuid"]
        assert api.delete(f"/v1/volumes/{alphas_volume['name']}").status_code == 204
