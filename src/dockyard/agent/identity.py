"""A host's identity on disk: its uuid and credential, in a file only the agent may read."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HostIdentity:
    uuid: str
    credential: str


@dataclass(frozen=True)
class IdentityStore:
    """One host's identity file (`identity.json` in the host's state directory)."""

    directory: Path

    @property
    def path(self) -> Path:
        return self.directory / "identity.json"

    def load(self) -> HostIdentity | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        return HostIdentity(uuid=str(data["uuid"]), credential=str(data["credential"]))

    def save(self, identity: HostIdentity) -> None:
        """Write atomically (a crash leaves the old file or the new one), mode 0600."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_suffix(".tmp")
        body = json.dumps({"uuid": identity.uuid, "credential": identity.credential})
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, body.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def stores(state_dir: Path, names: list[str]) -> list[IdentityStore]:
    """One store per host: the state dir itself for one host, a folder per name for many."""
    if len(names) == 1:
        return [IdentityStore(state_dir)]
    return [IdentityStore(state_dir / "hosts" / name) for name in names]
