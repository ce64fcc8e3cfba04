"""Secrets at rest: private registry passwords, encrypted with Fernet (AES-CBC + HMAC).

The key is the `registries.encryption_key` setting, or else a key file in the data
directory made (mode 0600) the first time one is needed. Plain text never reaches the
database, a response or a log line; only the agent that pulls receives it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from dockyard.errors import DockyardError
from dockyard.settings import ConfigError, Settings

log = logging.getLogger(__name__)
KEY_FILE = "registry.key"


class SecretUnreadable(DockyardError):
    message = "A stored secret cannot be decrypted with this deployment's key: {why}"


@dataclass
class SecretBox:
    settings: Settings
    _fernet: Fernet | None = field(default=None, repr=False)

    def _box(self) -> Fernet:
        if self._fernet is None:
            configured = self.settings.registries.encryption_key
            key = configured.get_secret_value().encode() if configured else _key_file(self.settings)
            try:
                self._fernet = Fernet(key)
            except ValueError as exc:
                raise ConfigError(f"registries.encryption_key is not a Fernet key: {exc}") from None
        return self._fernet

    def encrypt(self, text: str) -> str:
        return self._box().encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._box().decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(why="the key changed, or replicas have different keys") from None


def _key_file(settings: Settings) -> bytes:
    """The data directory's key, made on first use; O_EXCL, so two processes agree on one."""
    path = Path(settings.data_dir) / KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(Fernet.generate_key())
    log.info("made the registry password key %s (set registries.encryption_key for replicas)", path)
    return path.read_bytes().strip()
