"""Capsules whose images live in a private registry (a real Distribution registry on loopback
behind htpasswd): Zun's capsule template has no `registry`, so a member whose image's domain
is one of the project's registry records pulls with that record's credentials."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.capsules import Capsules, template, wait_capsule
from tests.support.registry import Registry
from tests.support.server import DockyardProcess
from tests.support.testimage import SLEEP_FOREVER, remove_image
from tests.support.wait import wait_for
from tests.support.zun import unique_name
from tests.support.zunclient import make_client

pytestmark = pytest.mark.engine

USER = "capsule-puller"
PASSWORD = "cap-s3cret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    running = Registry(tmp_path_factory.mktemp("capsule-registry"), users={USER: PASSWORD})
    yield running.start()
    running.stop()


def one_member(name: str, image: str) -> dict[str, Any]:
    return template(name, containers=[{"name": "main", "image": image, "command": SLEEP_FOREVER}])


def members(capsule: dict[str, Any]) -> list[dict[str, Any]]:
    return [*capsule["init_containers"], *capsule["containers"]]


def test_a_capsule_pulls_a_private_image_with_the_projects_registry_for_its_domain(
    server: DockyardProcess, api: httpx.Client, capsules: Capsules, registry: Registry
) -> None:
    ref = registry.push_test_image(f"dockyard-test/capsule-{uuid.uuid4().hex[:8]}")
    client = make_client(server.url)
    made = client.registries.create(domain=registry.address, username=USER, password=PASSWORD)
    record: dict[str, Any] = made._info["registry"]
    try:
        created = client.capsules.create(template=one_member(unique_name("cap-priv"), ref))
        capsules.remember(created._info)
        assert [m["registry_id"] for m in members(created._info)] == [record["uuid"]]
        running = wait_capsule(api, created.uuid, "Running", timeout=90)
        assert [m["status"] for m in members(running)] == ["Running"]
        repo = ref.rsplit(":", 1)[0]  # the agent's pull is on its host's image list
        listed = [i for i in api.get("/v1/images").json()["images"] if i["repo"] == repo]
        assert [(i["tag"], i["status"]) for i in listed] == [("1", "Pulled")]
    finally:
        capsules.clean_up()
        client.registries.delete(record["uuid"])
        for row in api.get("/v1/images").json()["images"]:
            if row["repo"] == ref.rsplit(":", 1)[0]:
                api.delete(f"/v1/images/{row['uuid']}")
        remove_image(ref)


def test_without_a_registry_record_the_capsule_fails_saying_why(
    server: DockyardProcess, api: httpx.Client, capsules: Capsules, registry: Registry
) -> None:
    ref = registry.push_test_image(f"dockyard-test/capsule-bare-{uuid.uuid4().hex[:8]}")
    body = one_member(unique_name("cap-bare"), ref)
    created = make_client(server.url).capsules.create(template=body)
    capsules.remember(created._info)
    assert [m["registry_id"] for m in members(created._info)] == [None]

    def failed() -> dict[str, Any] | None:
        (member,) = members(api.get(f"/v1/capsules/{created.uuid}").json())
        return member if member["status"] == "Error" else None

    member = wait_for(failed, 90, what="the capsule's member to fail")
    assert ref in member["status_reason"]
    assert "without credentials" in member["status_reason"]
    remove_image(ref)
