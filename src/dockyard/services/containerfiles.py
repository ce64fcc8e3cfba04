"""A container's files: archives out and in (`appcontainer cp`) and commit to a new image.

Each is answered by the agent of the container's host; the control plane never touches an
engine. A committed image is recorded on that host in /v1/images, as a pulled one is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dockyard.db.engine import Sessions, transaction
from dockyard.db.images_tables import ImageRow
from dockyard.db.repositories.images import ImageRepository
from dockyard.db.tables import new_uuid
from dockyard.domain.containers import Action
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import InvalidValue, PathNotFound
from dockyard.services.containers import ContainerService
from dockyard.services.hostcalls import HostCalls
from dockyard.services.images import PULLED, split_ref

_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # the engines' tag grammar


def check_path(path: Any) -> str:
    """The container path of an archive call: a non-empty absolute path."""
    if not isinstance(path, str) or not path:
        raise InvalidValue("path is required.")
    if not path.startswith("/") or "\x00" in path:
        raise InvalidValue(f"Invalid path {path!r}: give an absolute path in the container.")
    return path


@dataclass
class ContainerFiles:
    sessions: Sessions
    containers: ContainerService
    hostcalls: HostCalls

    async def get_archive(
        self, ctx: RequestContext, ident: str, path: str
    ) -> tuple[bytes, dict[str, Any]]:
        """A tar of path in the container and path's stat; 404 if path is missing."""
        path = check_path(path)
        row, host = await self.containers.engine_target(ctx, ident, Action.GET_ARCHIVE)
        missing = PathNotFound(path=path, uuid=row.uuid)
        return await self.hostcalls.get_archive(host, str(row.container_id), path, missing)

    async def put_archive(self, ctx: RequestContext, ident: str, path: str, data: bytes) -> None:
        """Extract the tar data into the directory path; 404 if path is missing, 400 if it
        is not a directory or data is not a tar."""
        path = check_path(path)
        row, host = await self.containers.engine_target(ctx, ident, Action.PUT_ARCHIVE)
        missing = PathNotFound(path=path, uuid=row.uuid)
        await self.hostcalls.put_archive(host, str(row.container_id), path, data, missing)

    async def commit(
        self, ctx: RequestContext, ident: str, repository: str, tag: str | None
    ) -> ImageRow:
        """A new image repository:tag on the container's host, recorded in /v1/images.

        Done before the reply (Zun answers 202 and commits later): an image the caller can
        run at once, and a failure that leaves no record behind.
        """
        if tag is not None and not _TAG.fullmatch(tag):
            raise InvalidValue(
                f"Invalid tag {tag!r}: letters, digits, '_', '.', '-' (128 at most)."
            )
        repo, tag = split_ref(repository, tag)
        if repo != repo.lower():
            raise InvalidValue(f"Invalid repository {repository!r}: use lower case.")
        row, host = await self.containers.engine_target(ctx, ident, Action.COMMIT)
        image = await self.hostcalls.commit(host, str(row.container_id), repo, tag)
        async with transaction(self.sessions) as session:
            images = ImageRepository(session)
            record = await images.find_on_host(host.uuid, repo, tag)
            if record is None:
                record = ImageRow(uuid=new_uuid(), host_uuid=host.uuid, repo=repo, tag=tag)
                images.add(record)
            record.status, record.image_pull_policy = PULLED, None
            record.status_reason = f"Committed from container {row.uuid}."
            record.image_id, record.size = str(image["id"]), int(image["size"])
            record.progress_current = record.progress_total = record.size
            record.project_id, record.user_id = ctx.project_id, ctx.user_id
        return record
