"""Wire models of named volumes (/v1/volumes, a Dockyard extension) and of Zun's `mounts`
on container create (1.11: `{source|size, destination}`; 1.23: `type`, file injection)."""

from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from dockyard.errors import InvalidValue, SchemaValidationError
from dockyard.schemas.containers import NAME_PATTERN
from dockyard.schemas.problems import problems_line

Version = tuple[int, int]
Name = Annotated[str, StringConstraints(min_length=2, max_length=255, pattern=NAME_PATTERN)]
MAX_SIZE = 1024  # GiB; local volumes cannot cap their size, so this only bounds the record
MAX_FILE = 64 * 1024  # bytes of one injected file: it travels in every assignment of its host
MAX_DESTINATION = 4096
TYPE_SINCE: Version = (1, 23)


def _size(value: Any) -> Any:
    # The clients send `size=1` from the command line as the string "1".
    if isinstance(value, bool):
        raise ValueError("must be a whole number of GiB, not a boolean")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


Size = Annotated[int, BeforeValidator(_size), Field(ge=1, le=MAX_SIZE)]


class VolumeCreate(BaseModel):
    """POST /v1/volumes `{"volume": {...}}`: a named volume of the caller's project."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    size: Size | None = None
    host: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    availability_zone: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


def check_destination(value: str) -> str:
    """A normalized absolute path other than `/`; ValueError saying why not."""
    if not value.startswith("/"):
        raise ValueError(f"destination {value!r} must be an absolute path")
    if len(value) > MAX_DESTINATION or "\x00" in value:
        raise ValueError("destination is too long or has a NUL character")
    normal = posixpath.normpath(value)
    if normal in ("/", "//"):
        raise ValueError("cannot mount over '/'")
    return normal


class _MountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["volume", "bind"] = "volume"
    source: Annotated[str, StringConstraints(min_length=1)] | None = None
    size: Size | None = None
    destination: str

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        return check_destination(value)


@dataclass(frozen=True)
class MountRequest:
    """One validated mount: a named volume (`source`), a new one (`size`), or a file."""

    destination: str
    source: str | None = None  # the project's volume, by name or uuid
    size: int = 0  # a new volume, removed with the container
    content: str | None = None  # base64 file content (type bind)


def check_mounts_version(raw: Any, version: Version) -> None:
    """SchemaValidationError for a mount `type` (and so file injection) before 1.23."""
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        if isinstance(item, dict) and "type" in item and version < TYPE_SINCE:
            raise SchemaValidationError(
                f"mounts[{index}].type: needs microversion 1.23 or later (asked {version[0]}."
                f"{version[1]})"
            )


def parse_mounts(raw: list[dict[str, Any]]) -> list[MountRequest]:
    """The mounts of a create body, or SchemaValidationError / InvalidValue saying why not."""
    result = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise SchemaValidationError(f"mounts[{index}]: must be an object")
        try:
            mount = _MountIn.model_validate(item)
        except ValidationError as exc:
            line = problems_line(exc.errors())
            raise SchemaValidationError(f"mounts[{index}]: {line}") from None
        result.append(_request(index, mount))
    seen = [m.destination for m in result]
    if len(set(seen)) != len(seen):
        raise InvalidValue("mounts: two mounts have the same destination.")
    return result


def _request(index: int, mount: _MountIn) -> MountRequest:
    where = f"mounts[{index}]"
    if mount.type == "bind":
        if mount.source is None or mount.size is not None:
            raise InvalidValue(f"{where}: a bind mount takes source (the file's content, base64).")
        return MountRequest(mount.destination, content=_file_content(where, mount.source))
    if (mount.source is None) == (mount.size is None):
        raise InvalidValue(
            f"{where}: give source (a volume's name or uuid) or size (GiB of a new volume)."
        )
    return MountRequest(mount.destination, source=mount.source, size=mount.size or 0)


def _file_content(where: str, source: str) -> str:
    try:
        data = base64.b64decode(source, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidValue(f"{where}: source is not valid base64 file content.") from None
    if len(data) > MAX_FILE:
        raise InvalidValue(f"{where}: the file is over {MAX_FILE // 1024} KiB.")
    return base64.b64encode(data).decode("ascii")
