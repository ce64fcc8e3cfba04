"""A bed removes everything it made, even with containers still running in its engines."""

from __future__ import annotations

from pathlib import Path

from tests.multihost.common import run, wait_settled
from tests.support.multihost import Bed


def test_a_closed_bed_leaves_nothing_behind() -> None:
    small = Bed(Path("/tmp"), hosts=1, replicas=1)
    try:
        small.start()
        with small.apis[0].client() as api:
            assert wait_settled(api, run(api, "left-running")["uuid"])["status"] == "Running"
        assert small.leftovers()  # while it runs it is found, so the check below can fail
    finally:
        small.close()
    assert small.leftovers() == []
