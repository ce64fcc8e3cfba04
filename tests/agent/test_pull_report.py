"""The agent tells the control plane which image it pulled for a container (so the host's
image list shows it), and only when it pulled: an image the host had is not reported."""

from __future__ import annotations

from dockyard.runtime.fake import FakeRuntime
from tests.agent.fakeplane import IMAGE, FakeControlPlane, assignment
from tests.agent.units import units


async def test_a_pull_for_a_create_is_reported_with_the_engines_image() -> None:
    unit = units(FakeRuntime("h"), FakeControlPlane())  # the host lacks every image
    unit.want(assignment("needs-pull", image="registry.example:5000/team/app:2"))
    await unit.converger.converge("needs-pull")
    pulled = [r.pulled for r in unit.plane.reports if r.pulled is not None]
    assert len(pulled) == 1
    info = unit.runtime.image_info("registry.example:5000/team/app:2")
    assert info is not None
    assert (pulled[0].ref, pulled[0].image_id, pulled[0].size) == (
        "registry.example:5000/team/app:2", info.id, info.size,
    )  # fmt: skip
    last = unit.plane.last("needs-pull")
    assert last is not None
    assert last.status == "Running"


async def test_an_image_the_host_has_is_not_reported_as_pulled() -> None:
    unit = units(FakeRuntime("h", images=[IMAGE]), FakeControlPlane())
    unit.want(assignment("has-it"))
    await unit.converger.converge("has-it")
    assert [r.pulled for r in unit.plane.reports if r.pulled is not None] == []


async def test_a_failed_pull_reports_no_image() -> None:
    ref = "registry.example:5000/team/absent:1"
    unit = units(FakeRuntime("h", missing_images=[ref]), FakeControlPlane())
    unit.want(assignment("no-image", image=ref))
    await unit.converger.converge("no-image")
    assert [r.pulled for r in unit.plane.reports if r.pulled is not None] == []
    last = unit.plane.last("no-image")
    assert last is not None
    assert last.status == "Error"
