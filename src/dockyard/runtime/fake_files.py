"""Archives in and out of a fake container, and commit (a base of FakeRuntime)."""

from __future__ import annotations

import io
import posixpath
import tarfile
from datetime import UTC, datetime

from dockyard import errors
from dockyard.runtime.base import MAX_ARCHIVE, MODE_DIR, EngineImage
from dockyard.runtime.docker_files import check_tar
from dockyard.runtime.fake_engine import Box, FakeEngine, image_id, normalize_ref

# The directories of the busybox root filesystem every fake image is taken to have.
BASE_DIRS = frozenset(
    {"/", "/bin", "/dev", "/etc", "/home", "/proc", "/root", "/sys", "/tmp", "/usr", "/var"}  # noqa: S108 - paths inside the fake container
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FakeFiles(FakeEngine):
    """Files of a fake container are its layer (Box.files) plus its image's, copied at create."""

    def get_archive(self, engine_id: str, path: str) -> tuple[bytes, dict[str, object]]:
        """A tar of the file or directory path, as the engine makes it (named by its basename)."""
        with self._lock:
            box = self._get(engine_id)
            target = _absolute(path)
            found = self._entries(box, target)
        if not found:
            raise errors.RuntimeNotFound(ident=path)
        out = io.BytesIO()
        base = posixpath.basename(target) or "/"
        with tarfile.open(fileobj=out, mode="w") as tar:
            for relative, data in sorted(found.items()):
                name = posixpath.join(base, relative) if relative else base
                _add(tar, name, data)
        if out.tell() > MAX_ARCHIVE:
            raise errors.InvalidValue(f"{path} is larger than the archive limit.")
        is_dir = found.get("") is None
        stat: dict[str, object] = {
            "name": base, "size": 0 if is_dir else len(found[""] or b""),
            "mode": (MODE_DIR | 0o755) if is_dir else 0o644,
            "mtime": _EPOCH.isoformat().replace("+00:00", "Z"), "linkTarget": "",
        }  # fmt: skip
        return out.getvalue(), stat

    def put_archive(self, engine_id: str, path: str, data: bytes) -> None:
        """Extract the tar's files and directories under the directory path."""
        check_tar(data)
        with self._lock:
            box = self._get(engine_id)
            target = _absolute(path)
            if not self._is_dir(box, target):
                if target in box.files:
                    raise errors.InvalidValue(f"{path} is not a directory in the container.")
                raise errors.RuntimeNotFound(ident=path)
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                for member in tar.getmembers():
                    where = posixpath.normpath(posixpath.join(target, member.name))
                    if member.isdir():
                        box.dirs.add(where)
                    elif member.isfile():
                        extracted = tar.extractfile(member)
                        box.files[where] = extracted.read() if extracted else b""

    def commit(self, engine_id: str, repository: str, tag: str) -> EngineImage:
        """A new image holding the container's files; containers made from it start with them."""
        ref = normalize_ref(f"{repository}:{tag}")
        with self._lock:
            box = self._get(engine_id)
            self._images.add(ref)
            self._image_files[ref] = (dict(box.files), set(box.dirs))
        return EngineImage(id=image_id(ref), size=0, tags=[ref])

    def _is_dir(self, box: Box, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return path in BASE_DIRS or path in box.dirs or any(f.startswith(prefix) for f in box.files)

    def _entries(self, box: Box, path: str) -> dict[str, bytes | None]:
        """relative name → content (None: a directory) of what path holds; {} if nothing."""
        if path in box.files:
            return {"": box.files[path]}
        if not self._is_dir(box, path):
            return {}
        prefix = path.rstrip("/") + "/"
        found: dict[str, bytes | None] = {"": None}
        for name in box.dirs:
            if name.startswith(prefix):
                found[name[len(prefix) :]] = None
        for name, data in box.files.items():
            if name.startswith(prefix):
                found[name[len(prefix) :]] = data
        return found


def _absolute(path: str) -> str:
    # As the engine: a relative path is taken from the root, not from the working directory.
    return posixpath.normpath(posixpath.join("/", path))


def _add(tar: tarfile.TarFile, name: str, data: bytes | None) -> None:
    info = tarfile.TarInfo(name)
    if data is None:
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        return
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))
