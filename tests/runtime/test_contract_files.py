"""The files contract (archives in and out, commit) for both runtimes: Docker and the fake."""

from __future__ import annotations

import io
import tarfile
import uuid as uuids
from collections.abc import Iterator

import pytest

from dockyard import errors
from dockyard.runtime.base import MODE_DIR
from tests.support.runtime_bed import Bed
from tests.support.testimage import SLEEP_FOREVER, remove_image


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def files_of(data: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        return {
            m.name: extracted.read()
            for m in tar.getmembers()
            if m.isfile() and (extracted := tar.extractfile(m)) is not None
        }


@pytest.fixture
def committed(bed: Bed) -> Iterator[str]:
    """A repository name for an image the test commits; removed afterwards."""
    repository = f"dockyard-test/committed-{uuids.uuid4().hex[:8]}"
    yield repository
    if bed.kind == "docker":
        remove_image(f"{repository}:v1")


def test_put_then_get_archive_round_trips_a_file(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.put_archive(engine_id, "/tmp", tar_of({"note.txt": b"hello\x00\xffworld\n"}))
    data, stat = bed.runtime.get_archive(engine_id, "/tmp/note.txt")
    assert files_of(data) == {"note.txt": b"hello\x00\xffworld\n"}
    assert stat["name"] == "note.txt"
    assert stat["size"] == len(b"hello\x00\xffworld\n")
    assert not int(str(stat["mode"])) & MODE_DIR
    assert set(stat) == {"name", "size", "mode", "mtime", "linkTarget"}


def test_get_archive_of_a_directory_holds_its_files(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.put_archive(engine_id, "/tmp", tar_of({"d/a": b"1", "d/b": b"2"}))
    data, stat = bed.runtime.get_archive(engine_id, "/tmp/d")
    assert files_of(data) == {"d/a": b"1", "d/b": b"2"}
    assert int(str(stat["mode"])) & MODE_DIR


def test_archives_of_a_missing_path_are_not_found(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    with pytest.raises(errors.RuntimeNotFound):
        bed.runtime.get_archive(engine_id, "/no/such/file")
    with pytest.raises(errors.RuntimeNotFound):
        bed.runtime.put_archive(engine_id, "/no/such/dir", tar_of({"x": b"x"}))


def test_put_archive_into_a_file_or_of_a_non_tar_is_invalid(bed: Bed) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.put_archive(engine_id, "/tmp", tar_of({"plain": b"x"}))
    with pytest.raises(errors.InvalidValue):
        bed.runtime.put_archive(engine_id, "/tmp/plain", tar_of({"y": b"y"}))
    with pytest.raises(errors.InvalidValue):
        bed.runtime.put_archive(engine_id, "/tmp", b"this is not a tar archive" * 40)
    assert files_of(bed.runtime.get_archive(engine_id, "/tmp/plain")[0]) == {"plain": b"x"}


def test_commit_makes_an_image_whose_containers_have_the_changes(bed: Bed, committed: str) -> None:
    engine_id = bed.run(SLEEP_FOREVER)
    bed.runtime.put_archive(engine_id, "/root", tar_of({"made-here": b"committed\n"}))
    image = bed.runtime.commit(engine_id, committed, "v1")
    assert image.id.startswith("sha256:")
    assert bed.runtime.has_image(f"{committed}:v1")
    child = bed.run(SLEEP_FOREVER, image=f"{committed}:v1")
    result = bed.runtime.exec(child, ["cat", "/root/made-here"], 10)
    assert (result.exit_code, result.output) == (0, b"committed\n")
    bed.runtime.remove(child)
