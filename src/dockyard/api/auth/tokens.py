"""Static API tokens from a YAML file, for deployments without Keystone.

The file is a list of `{token, project_id, user_id, roles}`; `admin` in roles makes an admin.
Tokens are kept only as SHA-256 digests and compared in constant time; no message, log line
or error about the file ever contains one.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import stat
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import Unauthenticated
from dockyard.schemas.problems import problems_line
from dockyard.settings import ConfigError

log = logging.getLogger(__name__)


class TokenEntry(BaseModel):
    """One line of the tokens file."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    token: str = Field(min_length=1, description="The secret a client sends as X-Auth-Token.")
    project_id: str = Field(min_length=1, description="Project the token acts in.")
    user_id: str = Field(min_length=1, description="User the token acts as.")
    roles: list[str] = Field(default_factory=list, description="Roles; `admin` makes an admin.")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class StaticTokens:
    """Authenticates X-Auth-Token against the entries of a tokens file."""

    www_authenticate = 'Token realm="dockyard"'

    def __init__(self, entries: Sequence[TokenEntry]) -> None:
        self._entries: list[tuple[bytes, RequestContext]] = []
        seen: dict[bytes, int] = {}
        for number, entry in enumerate(entries, start=1):
            digest = _digest(entry.token)
            if digest in seen:
                raise ConfigError(f"entries {seen[digest]} and {number} have the same token")
            seen[digest] = number
            roles = frozenset(role.lower() for role in entry.roles)
            context = RequestContext(
                project_id=entry.project_id, user_id=entry.user_id, roles=roles
            )
            self._entries.append((digest, context))

    @classmethod
    def from_file(cls, path: Path) -> StaticTokens:
        """Load and check the file; ConfigError (naming no token) if it is unusable."""
        try:
            text = path.read_text()
            mode = path.stat().st_mode
        except OSError as exc:
            raise ConfigError(f"tokens file {path}: {exc.strerror or exc}") from None
        if mode & stat.S_IROTH:
            log.warning("tokens file %s is readable by every local user", path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            # Only the position: YAML's own message quotes the line, which may hold a token.
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"tokens file {path} is not valid YAML{where}") from None
        if not isinstance(data, list) or not data:
            raise ConfigError(f"tokens file {path}: expected a non-empty list of entries")
        return cls([_entry(path, number, item) for number, item in enumerate(data, start=1)])

    async def authenticate(self, token: str | None) -> RequestContext:
        """The context of the entry whose token matches; Unauthenticated otherwise."""
        if not token:
            raise Unauthenticated("Authentication required: send an API token in X-Auth-Token.")
        digest = _digest(token)
        found: RequestContext | None = None
        # Every entry is compared, so the time taken says nothing about which one matched.
        for candidate, context in self._entries:
            if hmac.compare_digest(candidate, digest):
                found = context
        if found is None:
            raise Unauthenticated("The token is not valid.")
        return found

    async def close(self) -> None:
        return None


def _entry(path: Path, number: int, item: object) -> TokenEntry:
    try:
        return TokenEntry.model_validate(item)
    except ValidationError as exc:
        problems = problems_line(exc.errors(include_input=False), whole="entry")
        raise ConfigError(f"tokens file {path}, entry {number}: {problems}") from None
