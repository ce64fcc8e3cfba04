"""The demo image: no registry has it, so asking for it builds it on the host."""

from __future__ import annotations

import time

from dockyard.runtime.demo import DEMO_IMAGE, DEMO_PAGE, DEMO_PORT
from tests.support.runtime_bed import Bed, wait_for


def test_pull_of_the_demo_image_makes_it_present(bed: Bed) -> None:
    bed.runtime.pull_image(DEMO_IMAGE)
    bed.runtime.pull_image(DEMO_IMAGE)  # again: already there, nothing to do
    assert bed.runtime.has_image(DEMO_IMAGE)


def _fetch(bed: Bed, engine_id: str) -> bytes:
    url = f"http://127.0.0.1:{DEMO_PORT}/"
    return bed.runtime.exec(engine_id, ["wget", "-qO-", url], timeout=10).output


def test_demo_image_serves_its_page_and_stops_at_once(docker_bed: Bed) -> None:
    docker_bed.runtime.pull_image(DEMO_IMAGE)
    engine_id = docker_bed.run(None, image=DEMO_IMAGE)  # the image's own command
    wait_for(lambda: _fetch(docker_bed, engine_id) == DEMO_PAGE)
    started = time.monotonic()
    docker_bed.runtime.stop(engine_id, timeout=10)
    assert time.monotonic() - started < 5  # httpd does not hold the stop for its timeout
    container = docker_bed.runtime.inspect(engine_id)
    assert (container.state, container.exit_code) == ("exited", 0)


def test_demo_image_has_a_shell_and_the_usual_tools(docker_bed: Bed) -> None:
    docker_bed.runtime.pull_image(DEMO_IMAGE)
    engine_id = docker_bed.run(["sh", "-c", "echo hello; sleep 0.1; id -un"], image=DEMO_IMAGE)
    wait_for(lambda: docker_bed.runtime.inspect(engine_id).state == "exited")
    assert docker_bed.runtime.inspect(engine_id).exit_code == 0
