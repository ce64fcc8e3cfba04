"""Sandboxes, volumes, the pause image and wait in the FakeRuntime (a base of FakeRuntime)."""

from __future__ import annotations

import secrets
import time

from dockyard import errors
from dockyard.runtime.base import EngineSandbox
from dockyard.runtime.fake_engine import Box, FakeEngine, Volume
from dockyard.runtime.labels import (
    LABEL_HOST,
    LABEL_POOL,
    LABEL_SANDBOX,
    POOL_NAME_PREFIX,
    claimed_uuid,
    sandbox_name,
)
from dockyard.runtime.pause import PAUSE_COMMAND, PAUSE_IMAGE
from dockyard.runtime.specs import RunSpec, SandboxSpec, sandbox_labels

_NOT_RUNNING = ("created", "exited", "restarting", "dead")  # docker's wait returns in these


class FakeSandboxes(FakeEngine):
    """The sandbox half of the FakeRuntime."""

    def wait(self, engine_id: str, timeout: float) -> int:
        """Block until the container exits (by stop, kill, or its program); its exit code."""
        deadline = time.monotonic() + timeout
        with self._changed:
            box = self._get(engine_id)
            while box.state not in _NOT_RUNNING and box.id in self._containers:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise errors.RuntimeFailure(
                        reason=f"container {engine_id} still runs after {timeout} s"
                    )
                self._changed.wait(remaining)
            return box.exit_code

    def ensure_pause_image(self) -> str:
        """The fake has every pause image it is asked for (it needs no busybox)."""
        with self._lock:
            self._images.add(PAUSE_IMAGE)
        return PAUSE_IMAGE

    def create_sandbox(self, spec: SandboxSpec) -> str:
        """Create and start an infra container running the pause command."""
        labels = sandbox_labels(spec)
        name = (
            POOL_NAME_PREFIX + secrets.token_hex(8) if spec.pool else sandbox_name(spec.uuid or "")
        )
        infra = RunSpec(
            uuid="",
            host=spec.host,
            image=PAUSE_IMAGE,
            command=PAUSE_COMMAND,
            hostname=spec.hostname,
            engine_network=spec.engine_network,
        )
        with self._lock:
            self._images.add(PAUSE_IMAGE)  # DockerRuntime builds it when missing
            box = self._add(name, infra, labels)
            self._run(box)
            return box.id

    def claim_pooled(self, engine_id: str, uuid: str) -> None:
        """Rename a free running pool sandbox to the sandbox of uuid."""
        with self._lock:
            box = self._get(engine_id)
            free = box.labels.get(LABEL_POOL) == "1" and box.name.startswith(POOL_NAME_PREFIX)
            if not free or box.state != "running":
                raise errors.RuntimeConflict(reason=f"{engine_id} is not a free pool sandbox")
            name = sandbox_name(uuid)
            if name in self._names:
                raise errors.RuntimeConflict(reason=f'The container name "/{name}" is in use.')
            del self._names[box.name]
            box.name, self._names[name] = name, box.id

    def list_sandboxes(self, host: str) -> list[EngineSandbox]:
        """This host's sandboxes, claimed and free; no hostname or start time, like docker's."""
        with self._lock:
            boxes = [b for b in self._sandbox_boxes() if b.labels[LABEL_HOST] == host]
            return [_sandbox_view(box, full=False) for box in boxes]

    def netns_pid(self, engine_id: str) -> int | None:
        """A stand-in pid: the number of the namespace it is in, while it runs."""
        with self._lock:
            box = self._get(engine_id)
            owner = self._owner(box) if box.spec.sandbox_engine_id else box
            running = box.state == "running" and owner is not None
            return owner.netns if running and owner is not None else None

    def find_sandbox(self, uuid: str) -> EngineSandbox | None:
        """The sandbox labelled with uuid or the pool sandbox claimed for it."""
        with self._lock:
            for box in self._sandbox_boxes():
                if _uuid_of(box) == uuid:
                    return _sandbox_view(box, full=True)
        return None

    def inspect_sandbox(self, engine_id: str) -> EngineSandbox:
        """The full view of one sandbox."""
        with self._lock:
            return _sandbox_view(self._get(engine_id), full=True)

    def remove_sandbox(self, engine_id: str) -> None:
        """Remove the containers joined to the sandbox, then the sandbox; missing is fine."""
        with self._lock:
            box = self._find(engine_id)
            if box is None:
                return
            for other in list(self._containers.values()):
                if other.id in self._containers and self._owner(other) is box:
                    self._force_remove(other)
            self._force_remove(box)

    def create_volume(self, name: str, host: str, labels: dict[str, str]) -> None:
        """Create the named volume; an existing one is left as it is (as docker does)."""
        with self._lock:
            self._volumes.setdefault(name, Volume(name=name, labels={**labels, LABEL_HOST: host}))

    def remove_volume(self, name: str) -> None:
        """Forget the volume; RuntimeConflict while any container, in any state, has it."""
        with self._lock:
            users = [
                box.id
                for box in self._containers.values()
                if any(mount.name == name for mount in box.spec.volumes)
            ]
            if users:
                reason = f"remove {name}: volume is in use - [{', '.join(users)}]"
                raise errors.RuntimeConflict(reason=reason)
            self._volumes.pop(name, None)

    def list_volumes(self, host: str) -> list[str]:
        """Names of the volumes labelled with host."""
        with self._lock:
            return sorted(
                v.name for v in self._volumes.values() if v.labels.get(LABEL_HOST) == host
            )


def _uuid_of(box: Box) -> str | None:
    if box.labels.get(LABEL_POOL) == "1":
        return claimed_uuid(box.name, box.labels)
    return box.labels.get(LABEL_SANDBOX)


def _sandbox_view(box: Box, *, full: bool) -> EngineSandbox:
    uuid = _uuid_of(box)
    return EngineSandbox(
        id=box.id,
        uuid=uuid,
        pooled=uuid is None,
        state=box.state,
        ip_addresses=[box.ip] if box.ip else [],
        hostname=box.hostname if full else None,
        started_at=box.started_at if full else None,
    )
