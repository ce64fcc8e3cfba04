"""Archives in and out of a container, and commit, on a Docker engine (a base of DockerRuntime)."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from typing import Any

from dockyard import errors
from dockyard.runtime.base import MAX_ARCHIVE, MODE_DIR, EngineImage
from dockyard.runtime.docker_errors import translated
from dockyard.runtime.docker_inspect import JSON
from dockyard.runtime.hold import unheld_entrypoint

_STAT_HEADER = "X-Docker-Container-Path-Stat"


class DockerFiles:
    """get_archive, put_archive and commit; it talks to the engine through `_api`."""

    @property
    def _api(self) -> Any:  # DockerRuntime's lazily made APIClient
        raise NotImplementedError

    def get_archive(self, engine_id: str, path: str) -> tuple[bytes, dict[str, object]]:
        """The engine's tar of path, read whole up to MAX_ARCHIVE bytes, and path's stat."""
        with translated(path):
            stream, stat = self._api.get_archive(engine_id, path)
            data = bytearray()
            try:
                for chunk in stream:
                    data += chunk
                    if len(data) > MAX_ARCHIVE:
                        raise errors.InvalidValue(
                            f"{path} is larger than {MAX_ARCHIVE // (1024 * 1024)} MiB as a tar; "
                            "copy a smaller part of it."
                        )
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
        return bytes(data), dict(stat)

    def put_archive(self, engine_id: str, path: str, data: bytes) -> None:
        """Extract data into the directory path; checked first, because the engine answers
        500 for a tar it cannot read and for a path that is not a directory."""
        check_tar(data)
        stat = self.stat_path(engine_id, path)
        if not int(str(stat.get("mode", 0))) & MODE_DIR:
            raise errors.InvalidValue(f"{path} is not a directory in the container.")
        with translated(path):
            self._api.put_archive(engine_id, path, data)

    def stat_path(self, engine_id: str, path: str) -> dict[str, object]:
        """The engine's stat of path (HEAD …/archive); RuntimeNotFound if it is missing."""
        with translated(path):
            response = self._api.head(
                self._api._url("/containers/{0}/archive", engine_id), params={"path": path}
            )
            self._api._raise_for_status(response)
        header = response.headers.get(_STAT_HEADER, "")
        stat: JSON = json.loads(base64.b64decode(header)) if header else {}
        return dict(stat)

    def commit(self, engine_id: str, repository: str, tag: str) -> EngineImage:
        """docker commit (the engine pauses a running container while it copies)."""
        with translated(engine_id):
            config: JSON = self._api.inspect_container(engine_id).get("Config") or {}
            conf = unheld_config(config)
            result: JSON = self._api.commit(engine_id, repository=repository, tag=tag, conf=conf)
            data: JSON = self._api.inspect_image(str(result["Id"]))
        return EngineImage(
            id=str(data["Id"]),
            size=int(data.get("Size") or 0),
            tags=list(data.get("RepoTags") or []),
        )


def unheld_config(config: JSON) -> JSON | None:
    """What a commit must set for the image to run the container's own entrypoint and
    command: a held container's entrypoint starts with the hold (runtime/hold.py), which is
    mounted only while it runs. None for any other container (the engine keeps its config)."""
    own = unheld_entrypoint(config.get("Entrypoint"))
    if own is None:
        return None
    # An empty (not absent) entrypoint: the engine's merge then keeps none of the old one.
    return {"Entrypoint": own, "Cmd": list(config.get("Cmd") or [])}


def check_tar(data: bytes) -> None:
    """InvalidValue unless data is a tar archive Python can read to its end."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            tar.getmembers()
    except (tarfile.TarError, EOFError) as exc:
        raise errors.InvalidValue(f"data is not a tar archive: {exc}") from None
