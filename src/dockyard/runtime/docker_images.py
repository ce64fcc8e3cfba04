"""Images on a Docker engine (a base of DockerRuntime's sandbox half): look-ups, pulls with
progress, removal, and the images made here from a root filesystem instead of pulled (the demo
image; the pause image of docker_sandbox.py)."""

from __future__ import annotations

from typing import Any

import docker.errors
import docker.utils

from dockyard import errors
from dockyard.runtime.base import EngineImage, ProgressSink, PullProgress, RegistryAuth
from dockyard.runtime.demo import DEMO_IMAGE, demo_changes, demo_rootfs_tar
from dockyard.runtime.docker_errors import translated
from dockyard.runtime.docker_inspect import JSON
from dockyard.runtime.pause import build_lock


class DockerImages:
    """has_image, pull_image, image_info, remove_image; it talks to the engine through `_api`."""

    def __init__(self, base_url: str | None) -> None:
        self._base_url = base_url

    @property
    def _api(self) -> Any:  # DockerRuntime's lazily made APIClient
        raise NotImplementedError

    def has_image(self, ref: str) -> bool:
        """Whether the image is present locally."""
        try:
            with translated(ref):
                self._api.inspect_image(ref)
        except (errors.ImageNotFound, errors.RuntimeNotFound):
            return False
        return True

    def pull_image(
        self, ref: str, auth: RegistryAuth | None = None, progress: ProgressSink | None = None
    ) -> None:
        """Pull ref; ImageNotFound when the registry answers that it does not have it.

        The demo image is built here instead: no registry has it.
        """
        if ref == DEMO_IMAGE:
            self._build_demo_image()
            return
        repository, tag = docker.utils.parse_repository_tag(ref)
        credentials = None
        if auth is not None:
            credentials = {
                "username": auth.username, "password": auth.password,
                "serveraddress": auth.server,
            }  # fmt: skip
        with translated(ref):
            try:
                messages = self._api.pull(
                    repository, tag=tag or "latest", stream=True, decode=True,
                    auth_config=credentials,
                )  # fmt: skip
                # Failures after the pull has begun arrive in the stream, not as a status.
                for message in messages:
                    if "error" in message:
                        raise errors.RuntimeFailure(reason=str(message["error"]))
                    if progress is not None and message.get("id"):
                        progress(pull_progress(message))
            except docker.errors.NotFound as exc:
                raise errors.ImageNotFound(ref=ref) from exc

    def image_info(self, ref: str) -> EngineImage | None:
        """The local image ref (id, size in bytes, tags), or None."""
        try:
            with translated(ref):
                data: JSON = self._api.inspect_image(ref)
        except (errors.ImageNotFound, errors.RuntimeNotFound):
            return None
        return EngineImage(
            id=str(data["Id"]),
            size=int(data.get("Size") or 0),
            tags=list(data.get("RepoTags") or []),
        )

    def remove_image(self, ref: str) -> None:
        """Remove the local image ref (the tag; the layers when no other tag holds them)."""
        try:
            with translated(ref):
                self._api.remove_image(ref)
        except errors.ImageNotFound as exc:
            raise errors.RuntimeNotFound(ident=ref) from exc

    def _build_demo_image(self) -> None:
        with build_lock(self._base_url or "default"):  # one build, however many agents ask
            if not self.has_image(DEMO_IMAGE):
                self.import_rootfs(DEMO_IMAGE, demo_rootfs_tar(), demo_changes())

    def import_rootfs(self, ref: str, rootfs: bytes, changes: list[str]) -> None:
        """`docker import` a root filesystem made here as ref (no registry involved)."""
        repository, tag = ref.rsplit(":", 1)
        with translated(ref):
            self._api.import_image_from_data(
                rootfs, repository=repository, tag=tag, changes=changes
            )


def pull_progress(message: JSON) -> PullProgress:
    """One message of the engine's pull stream as a PullProgress."""
    detail = message.get("progressDetail") or {}
    return PullProgress(
        layer=str(message.get("id", "")),
        status=str(message.get("status", "")),
        current=int(detail.get("current") or 0),
        total=int(detail.get("total") or 0),
    )
