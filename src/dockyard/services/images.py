"""Images on hosts (Zun's /v1/images): pull onto a host, list, show, delete, search.

A pull is accepted at once (202, status Pulling) and carried out by the host's agent; this
replica follows the agent's streamed progress and records it on the image row, so anyone may
watch it (`dockyard pull` draws it as a bar). The control plane never touches an engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dockyard.client.registrysearch import HUB_DOMAINS, RegistrySearch, entry
from dockyard.db.engine import Session, Sessions, transaction
from dockyard.db.images_tables import ImageRow
from dockyard.db.repositories.hosts import HostRepository
from dockyard.db.repositories.images import ImageRepository
from dockyard.db.tables import ContainerRow, HostRow, new_uuid, utcnow
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import (
    Conflict,
    DockyardError,
    HostUnavailable,
    InvalidValue,
    RegistryRefused,
    RegistryUnreachable,
)
from dockyard.schemas.agent import PulledImage
from dockyard.schemas.containers import check_image_reference
from dockyard.services.hostcalls import HostCalls
from dockyard.services.registries import RegistryService, registry_domain, search_sources
from dockyard.services.scheduling import is_host_up
from dockyard.settings import Settings

log = logging.getLogger(__name__)

PULLING, PULLED, ERROR = "Pulling", "Pulled", "Error"
PULL_TIMEOUT = 1800.0  # seconds a pull may take before the agent's stream is dropped
STALE_AFTER = 300.0  # seconds without progress after which a Pulling row is abandoned
PROGRESS_EVERY = 0.5  # seconds between progress writes: a bar, not a database load
PULL_POLICIES = ("always", "ifnotpresent", "never")
SEARCH_TERM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")
Auth = dict[str, str]
Results = list[dict[str, Any]]  # search results, Zun's shape


def split_ref(repo: str, tag: str | None) -> tuple[str, str]:
    """(repository, tag) from Zun's `repo` (which may carry `:tag`) and `tag`."""
    try:
        check_image_reference(repo)
    except ValueError as exc:
        raise InvalidValue(str(exc)) from None
    name, _, given = repo.rpartition(":") if ":" in repo.rsplit("/", 1)[-1] else (repo, "", "")
    if given and tag and given != tag:
        raise InvalidValue(f"repo {repo!r} names tag {given!r} but tag is {tag!r}.")
    return name, tag or given or "latest"


def is_pulling(row: ImageRow) -> bool:
    """Pulling, and heard of lately: a replica that stopped while following a pull leaves
    its row Pulling, and that must not block a new pull (or a delete) for ever."""
    return row.status == PULLING and utcnow() - row.updated_at < timedelta(seconds=STALE_AFTER)


@dataclass
class ImageService:
    sessions: Sessions
    settings: Settings
    hostcalls: HostCalls
    registries: RegistryService | None = None  # the caller's credentials for a private domain
    _pulls: set[asyncio.Task[None]] = field(default_factory=set)

    async def pull(
        self,
        ctx: RequestContext,
        repo: str,
        tag: str | None,
        host_ident: str,
        pull_policy: str | None = None,
        auth: Auth | None = None,
    ) -> ImageRow:
        """Record the pull of repo:tag onto the host and start it; 404 for an unknown host,
        409 while the same pull is under way there."""
        repository, tag = split_ref(repo, tag)
        domain = registry_domain(repository)
        if auth is None and domain and self.registries is not None:
            auth = await self.registries.credentials_for_domain(ctx, domain)
        if pull_policy is not None and pull_policy not in PULL_POLICIES:
            raise InvalidValue(f"image_pull_policy must be one of {', '.join(PULL_POLICIES)}.")
        async with transaction(self.sessions) as session:
            host = await HostRepository(session).get(host_ident)
            if not is_host_up(host, self.settings.scheduler):
                raise HostUnavailable(
                    f"Host {host.hostname} is not up; the image cannot be pulled."
                )
            images = ImageRepository(session)
            row = await images.find_on_host(host.uuid, repository, tag)
            if row is not None and is_pulling(row):
                raise Conflict(f"Image {repository}:{tag} is being pulled onto {host.hostname}.")
            if row is None:
                row = ImageRow(uuid=new_uuid(), host_uuid=host.uuid, repo=repository, tag=tag)
                images.add(row)
            row.status, row.status_reason, row.image_pull_policy = PULLING, None, pull_policy
            row.progress_current = row.progress_total = 0
            row.project_id, row.user_id = ctx.project_id, ctx.user_id
        task = asyncio.create_task(self._follow(row.uuid, host, f"{repository}:{tag}", auth))
        self._pulls.add(task)
        task.add_done_callback(self._pulls.discard)
        return row

    async def _follow(self, uuid: str, host: HostRow, ref: str, auth: Auth | None) -> None:
        layers: dict[str, tuple[int, int]] = {}
        last = 0.0
        outcome: dict[str, Any] = {"error": "the agent's stream ended without a result"}
        try:
            async for line in self.hostcalls.pull_image(host, ref, auth, PULL_TIMEOUT):
                if "done" in line or "error" in line:
                    outcome = line
                    continue
                layers[str(line.get("layer"))] = (int(line["current"]), int(line["total"]))
                if time.monotonic() - last >= PROGRESS_EVERY:
                    last = time.monotonic()
                    await self._record(uuid, progress=_sum(layers))
        except DockyardError as exc:
            outcome = {"error": exc.text}
        except Exception as exc:  # the top of this task: record it, never lose the row
            log.exception("pull of %s onto %s failed", ref, host.hostname)
            outcome = {"error": f"unexpected failure: {exc!r}"}
        await self._finish(uuid, ref, host.hostname, outcome, _sum(layers))

    async def _record(self, uuid: str, progress: tuple[int, int]) -> None:
        async with transaction(self.sessions) as session:
            row = await ImageRepository(session).get(uuid, for_update=True)
            if row.status == PULLING:
                row.progress_current, row.progress_total = progress

    async def _finish(
        self, uuid: str, ref: str, hostname: str, outcome: dict[str, Any], progress: tuple[int, int]
    ) -> None:
        async with transaction(self.sessions) as session:
            row = await ImageRepository(session).get(uuid, for_update=True)
            done = outcome.get("done")
            if "error" in outcome:
                row.status = ERROR
                row.status_reason = f"Pull of {ref} onto {hostname} failed: {outcome['error']}"
                return
            row.status, row.status_reason = PULLED, None
            row.image_id = str(done["id"]) if done else None
            row.size = int(done["size"]) if done else None
            total = max(progress[1], row.size or 0)
            row.progress_current = row.progress_total = total

    async def close(self) -> None:
        """Stop following pulls (at shutdown); their rows stay Pulling until pulled again."""
        for task in list(self._pulls):
            task.cancel()
        for task in list(self._pulls):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def get(self, ident: str) -> ImageRow:
        async with self.sessions() as session:
            return await ImageRepository(session).get(ident)

    async def list(
        self, *, limit: int, marker: str | None, sort_key: str, sort_dir: str
    ) -> Sequence[ImageRow]:
        async with self.sessions() as session:
            return await ImageRepository(session).list(
                limit=limit, marker=marker, sort_key=sort_key, sort_dir=sort_dir
            )

    async def delete(self, ident: str) -> None:
        """Remove the image from its host's engine, then the record; 409 if a container
        uses it or it is being pulled, 503 if the host is down."""
        async with self.sessions() as session:
            row = await ImageRepository(session).get(ident)
            host = await HostRepository(session).get(row.host_uuid)
        if is_pulling(row):
            raise Conflict(f"Image {row.repo}:{row.tag} is being pulled; delete it afterwards.")
        if not is_host_up(host, self.settings.scheduler):
            raise HostUnavailable(f"Host {host.hostname} is not up; the image cannot be removed.")
        await self.hostcalls.remove_image(host, f"{row.repo}:{row.tag}")
        async with transaction(self.sessions) as session:
            images = ImageRepository(session)
            await images.delete(await images.get(ident, for_update=True))

    async def search(self, ctx: RequestContext, term: str, exact: bool) -> Results:
        """Images matching term on the hosts and in registries, one entry per repository: a
        term naming a registry searches that one (docker.io: Docker Hub), a bare term the
        project's private registries (Docker Hub only when asked by name: it is often out
        of reach, and an ordinary search must not wait on it)."""
        check_search_term(term)
        async with self.sessions() as session:
            rows = await ImageRepository(session).search(term, exact)
        found: dict[str, dict[str, Any]] = {}
        for row in rows:
            listed = found.setdefault(row.repo, entry(row.repo, [], registry=None))
            listed["tags"] = sorted({*listed["tags"], row.tag})
        for result in await self._in_registries(ctx, term, exact):
            listed = found.setdefault(result["name"], result)
            listed["tags"] = sorted({*listed["tags"], *result["tags"]})
            listed["metadata"]["registry"] = result["metadata"]["registry"]
        return list(found.values())

    async def _in_registries(self, ctx: RequestContext, term: str, exact: bool) -> Results:
        searcher = RegistrySearch(self.settings.registries)
        domain = registry_domain(term)
        path = term.partition("/")[2] if domain else term
        if domain in HUB_DOMAINS:
            return await searcher.hub(path.removeprefix("library/"), exact)
        if self.registries is None:
            return []
        sources = await search_sources(self.registries, ctx, domain)
        if domain is not None:  # the registry asked for by name: its failure is the answer
            return await searcher.registry(sources[0], path, exact)
        answers = await asyncio.gather(
            *(searcher.registry(source, path, exact) for source in sources), return_exceptions=True
        )
        results: Results = []
        for source, answer in zip(sources, answers, strict=True):
            if isinstance(answer, (RegistryUnreachable, RegistryRefused)):
                log.warning("image search skipped registry %s: %s", source.domain, answer.text)
            elif isinstance(answer, BaseException):
                raise answer
            else:
                results += answer
        return results

    async def host_names(self, host_uuids: set[str]) -> dict[str, str]:
        async with self.sessions() as session:
            hosts = HostRepository(session)
            return {u: (await hosts.get(u)).hostname for u in host_uuids}


async def record_pulled(
    session: Session, host_uuid: str, container: ContainerRow, pulled: PulledImage
) -> None:
    """Record an image the agent pulled to create container, with the fields of an explicit
    pull (the container's project and policy), so /v1/images lists it on its host."""
    try:
        repository, tag = split_ref(pulled.ref, None)
    except InvalidValue:
        return  # the engine took a name this API would not: nothing to list it under
    fields: dict[str, Any] = {
        "status": PULLED, "status_reason": None, "image_id": pulled.image_id,
        "size": pulled.size, "progress_current": pulled.size, "progress_total": pulled.size,
        "image_pull_policy": container.spec.image_pull_policy,
        "project_id": container.project_id, "user_id": container.user_id,
    }  # fmt: skip
    made = ImageRow(uuid=new_uuid(), host_uuid=host_uuid, repo=repository, tag=tag, **fields)
    row = await ImageRepository(session).put_on_host(made)
    for name, value in fields.items():
        setattr(row, name, value)


def _sum(layers: dict[str, tuple[int, int]]) -> tuple[int, int]:
    return sum(c for c, _ in layers.values()), sum(t for _, t in layers.values())


def check_search_term(term: str) -> None:
    """A search term is an image name, or part of one (no tag, no digest)."""
    if not SEARCH_TERM.fullmatch(term) or len(term) > 255:
        raise InvalidValue(f"Cannot search for {term!r}: not (part of) an image name.")
    if registry_domain(term) is not None and not term.partition("/")[2]:
        raise InvalidValue(f"Cannot search for {term!r}: name an image after the registry.")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def image_view(row: ImageRow, hostname: str | None) -> dict[str, Any]:
    """Zun's image fields, then Dockyard's: the pull's status and progress in bytes."""
    return {
        "uuid": row.uuid, "image_id": row.image_id, "repo": row.repo, "tag": row.tag,
        "size": row.size, "project_id": row.project_id,
        "image_pull_policy": row.image_pull_policy, "host": hostname,
        "status": row.status, "status_reason": row.status_reason,
        "progress": {"current": row.progress_current, "total": row.progress_total},
        "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
    }  # fmt: skip
