"""Sandboxes, volumes, the pause image and wait on a Docker engine (a base of DockerRuntime)."""

from __future__ import annotations

import json
import re
import secrets
import threading

import requests.exceptions
import urllib3.exceptions

from dockyard import errors
from dockyard.runtime.base import EngineSandbox
from dockyard.runtime.docker_errors import translated
from dockyard.runtime.docker_images import DockerImages
from dockyard.runtime.docker_inspect import (
    JSON,
    joined_sandbox_id,
    sandbox_from_inspect,
    sandbox_from_row,
)
from dockyard.runtime.docker_spec import sandbox_args
from dockyard.runtime.labels import (
    KIND_SANDBOX,
    LABEL_HOST,
    LABEL_KIND,
    LABEL_POOL,
    LABEL_SANDBOX,
    POOL_NAME_PREFIX,
    claimed_uuid,
    sandbox_name,
)
from dockyard.runtime.pause import PAUSE_COMMAND, PAUSE_IMAGE, build_lock, pause_rootfs_tar
from dockyard.runtime.specs import SandboxSpec

CLAIM_LOCKS = 16


class DockerSandboxes(DockerImages):
    """The sandbox half of DockerRuntime (its pause image is one of DockerImages'); it talks to
    the engine through `_api`."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(base_url)
        self._pause_ready = False
        self._pause_lock = threading.Lock()
        # Claims of one sandbox are serialised, claims of different ones are not (a burst's
        # claims run side by side): the lock is picked by the engine id.
        self._claim_locks = [threading.Lock() for _ in range(CLAIM_LOCKS)]

    def wait(self, engine_id: str, timeout: float) -> int:
        """Block until the container is not running; its exit code (0 if never started)."""
        try:
            with translated(engine_id):
                result: JSON = self._api.wait(engine_id, timeout=timeout)
        except errors.RuntimeFailure as exc:
            if _timed_out(exc.__cause__):
                raise errors.RuntimeFailure(
                    reason=f"container {engine_id} still runs after {timeout} s"
                ) from exc
            raise
        return int(result.get("StatusCode", 0))

    def netns_pid(self, engine_id: str) -> int | None:
        """The container's main process (0 from the engine: it does not run)."""
        with translated(engine_id):
            data: JSON = self._api.inspect_container(engine_id)
        pid = int((data.get("State") or {}).get("Pid") or 0)
        return pid or None

    # --- the pause image ---------------------------------------------------------------

    def ensure_pause_image(self) -> str:
        """Import the pause image from the host's busybox once; safe against other builders.

        A process-wide lock keeps this runtime's threads from importing twice, and a file
        lock per engine does the same for other processes (agents, test workers).
        """
        if self._pause_ready:
            return PAUSE_IMAGE
        with self._pause_lock:
            if not self.has_image(PAUSE_IMAGE):
                with build_lock(self._base_url or "default"):
                    if not self.has_image(PAUSE_IMAGE):
                        self._import_pause_image()
            self._pause_ready = True
        return PAUSE_IMAGE

    def _import_pause_image(self) -> None:
        self.import_rootfs(PAUSE_IMAGE, pause_rootfs_tar(), [f"CMD {json.dumps(PAUSE_COMMAND)}"])

    # --- sandboxes ---------------------------------------------------------------------

    def create_sandbox(self, spec: SandboxSpec) -> str:
        """Create and start the infra container; return its engine id.

        Two engine calls (create, start) and no inspect: this is the warm pool's refill.
        """
        name = (
            POOL_NAME_PREFIX + secrets.token_hex(8) if spec.pool else sandbox_name(spec.uuid or "")
        )
        args = sandbox_args(self._api, spec, name)  # validates before the engine is asked
        try:
            with translated(PAUSE_IMAGE):
                created: JSON = self._api.create_container(PAUSE_IMAGE, **args)
        except errors.ImageNotFound:
            self._pause_ready = False  # removed behind our back: build it again
            self.ensure_pause_image()
            with translated(PAUSE_IMAGE):
                created = self._api.create_container(PAUSE_IMAGE, **args)
        engine_id = str(created["Id"])
        try:
            with translated(engine_id):
                self._api.start(engine_id)
        except errors.DockyardError:
            self._force_remove(engine_id)  # else its name would block a retry
            raise
        return engine_id

    def claim_pooled(self, engine_id: str, uuid: str) -> None:
        """Rename a free running pool sandbox to sandbox_name(uuid): the claim's record.

        The rename goes by the pool name, not the id, so that of two claimers of one pool
        sandbox the second finds no such name and fails. The engine looks the name up
        before it takes the container's lock, so two renames at once can both go through:
        claims of one sandbox in this process take turns.
        """
        with self._claim_locks[hash(engine_id) % CLAIM_LOCKS]:
            with translated(engine_id):
                data: JSON = self._api.inspect_container(engine_id)
            name = str(data.get("Name", "")).lstrip("/")
            labels = (data.get("Config") or {}).get("Labels") or {}
            running = (data.get("State") or {}).get("Status") == "running"
            if labels.get(LABEL_POOL) != "1" or claimed_uuid(name, labels) or not running:
                raise errors.RuntimeConflict(reason=f"{engine_id} is not a free pool sandbox")
            try:
                with translated(name):
                    self._api.rename(name, sandbox_name(uuid))
            except errors.RuntimeNotFound as exc:
                raise errors.RuntimeConflict(reason=f"{engine_id} was claimed meanwhile") from exc

    def list_sandboxes(self, host: str) -> list[EngineSandbox]:
        """This host's sandboxes, claimed and free, from one list call."""
        filters = {"label": [f"{LABEL_HOST}={host}", f"{LABEL_KIND}={KIND_SANDBOX}"]}
        with translated(host):
            rows: list[JSON] = self._api.containers(all=True, filters=filters)
        return [sandbox_from_row(row) for row in rows]

    def find_sandbox(self, uuid: str) -> EngineSandbox | None:
        """The sandbox labelled with uuid, else the pool sandbox claimed for it (by name)."""
        by_label = [f"{LABEL_KIND}={KIND_SANDBOX}", f"{LABEL_SANDBOX}={uuid}"]
        by_name = {
            "label": [f"{LABEL_KIND}={KIND_SANDBOX}", LABEL_POOL],
            "name": f"^/?{re.escape(sandbox_name(uuid))}$",
        }
        for filters in ({"label": by_label}, by_name):
            with translated(uuid):
                rows: list[JSON] = self._api.containers(all=True, filters=filters)
            for row in rows:
                try:
                    return self.inspect_sandbox(str(row["Id"]))
                except errors.RuntimeNotFound:
                    continue  # removed between the list and the inspect
        return None

    def inspect_sandbox(self, engine_id: str) -> EngineSandbox:
        """The engine's full view of one sandbox."""
        with translated(engine_id):
            return sandbox_from_inspect(self._api.inspect_container(engine_id))

    def remove_sandbox(self, engine_id: str) -> None:
        """Remove the containers joined to the sandbox, then the sandbox; missing is fine.

        Joined containers are found among the sandbox's host's containers by network mode.
        """
        try:
            with translated(engine_id):
                data: JSON = self._api.inspect_container(engine_id)
        except errors.RuntimeNotFound:
            return
        host = ((data.get("Config") or {}).get("Labels") or {}).get(LABEL_HOST, "")
        with translated(engine_id):
            rows: list[JSON] = self._api.containers(
                all=True, filters={"label": [f"{LABEL_HOST}={host}"]}
            )
        sandbox_id = str(data["Id"])
        for row in rows:
            if joined_sandbox_id(row.get("HostConfig")) == sandbox_id:
                self._force_remove(str(row["Id"]))
        self._force_remove(sandbox_id)

    def _force_remove(self, engine_id: str) -> None:
        try:
            with translated(engine_id):
                self._api.remove_container(engine_id, v=True, force=True)
        except errors.RuntimeNotFound:
            pass

    # --- volumes -----------------------------------------------------------------------

    def create_volume(self, name: str, host: str, labels: dict[str, str]) -> None:
        """Create the named volume; the engine returns an existing one unchanged."""
        with translated(name):
            self._api.create_volume(name, labels={**labels, LABEL_HOST: host})

    def remove_volume(self, name: str) -> None:
        """Remove the volume; missing is fine; RuntimeConflict (409) while a container has it."""
        try:
            with translated(name):
                self._api.remove_volume(name)
        except errors.RuntimeNotFound:
            pass

    def list_volumes(self, host: str) -> list[str]:
        """Names of the volumes labelled io.dockyard.host=host."""
        with translated(host):
            result: JSON = self._api.volumes(filters={"label": f"{LABEL_HOST}={host}"})
        return sorted(str(volume["Name"]) for volume in result.get("Volumes") or [])


def _timed_out(exc: BaseException | None) -> bool:
    # requests wraps urllib3's read timeout on a unix socket in a ConnectionError.
    if isinstance(exc, requests.exceptions.Timeout):
        return True
    return any(isinstance(arg, urllib3.exceptions.TimeoutError) for arg in getattr(exc, "args", ()))
