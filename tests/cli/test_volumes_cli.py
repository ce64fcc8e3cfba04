"""`dockyard volume …` and `dockyard run -v` against a real `dockyard serve`."""

from __future__ import annotations

import json
import uuid

from tests.cli.conftest import Dockyard
from tests.support.testimage import SLEEP_FOREVER, TEST_IMAGE


def test_volume_create_list_show_and_delete(dockyard: Dockyard) -> None:
    name = f"clivol-{uuid.uuid4().hex[:8]}"
    made = dockyard("volume", "create", "--size", "3", "--format", "json", name)
    assert made.exit_code == 0, made.stderr
    volume = json.loads(made.stdout)
    assert (volume["name"], volume["size"], volume["in_use"]) == (name, 3, False)
    listed = dockyard("volume", "list")
    assert listed.exit_code == 0, listed.stderr
    (row,) = [line for line in listed.stdout.splitlines() if name in line]
    assert volume["uuid"] in row
    assert "3 GiB" in row
    shown = dockyard("volume", "show", name)
    assert shown.exit_code == 0
    assert volume["uuid"] in shown.stdout
    gone = dockyard("volume", "delete", name)
    assert gone.exit_code == 0, gone.stderr
    missing = dockyard("volume", "show", name)
    assert missing.exit_code == 1
    assert "could not be found" in missing.stderr


def test_run_mounts_a_named_volume_and_delete_waits_for_its_users(dockyard: Dockyard) -> None:
    volume = f"clivol-{uuid.uuid4().hex[:8]}"
    assert dockyard("volume", "create", volume).exit_code == 0
    name = dockyard.name()
    ran = dockyard("run", "--name", name, "-v", f"{volume}:/data", "-v", "1:/tmp/s",
                   TEST_IMAGE, *SLEEP_FOREVER)  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    assert dockyard("exec", name, "sh", "-c", "echo hi > /data/f").exit_code == 0
    refused = dockyard("volume", "delete", "--timeout", "1", volume)
    assert refused.exit_code == 1
    assert "in use" in refused.stderr
    assert dockyard("delete", "--stop", name).exit_code == 0
    deleted = dockyard("volume", "delete", volume)  # waits while the container goes
    assert deleted.exit_code == 0, deleted.stderr


def test_a_bad_volume_option_is_a_usage_error(dockyard: Dockyard) -> None:
    result = dockyard("run", "-v", "data", TEST_IMAGE)
    assert result.exit_code == 2
    assert "Invalid value for '-v'" in result.stderr
