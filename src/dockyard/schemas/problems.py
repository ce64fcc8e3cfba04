"""pydantic's validation errors as one line in Dockyard's words (no library prefixes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic_core import ErrorDetails

# pydantic prefixes the message of an error a validator raised ("Value error, …",
# "Assertion failed, …"); the validator's own text is what a user should read.
_RAISED_BY_VALIDATOR = frozenset({"value_error", "assertion_error"})


def problem_text(error: ErrorDetails | dict[str, Any]) -> str:
    """The message of one problem, as the validator that found it wrote it."""
    if error["type"] in _RAISED_BY_VALIDATOR:
        cause = error.get("ctx", {}).get("error")
        if cause is not None:
            return str(cause)
    return str(error["msg"])


def problems_line(
    errors: Iterable[ErrorDetails | dict[str, Any]], *, skip: int = 0, whole: str = "body"
) -> str:
    """'field: message; …' for every problem; `skip` drops leading parts of each location
    (FastAPI's "body"), `whole` names a problem with the whole input."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"][skip:]) or whole
        if error["type"] == "extra_forbidden":
            parts.append(f"Additional properties are not allowed ({where!r} was unexpected)")
        else:
            parts.append(f"{where}: {problem_text(error)}")
    return "; ".join(parts)
