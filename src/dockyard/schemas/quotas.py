"""Wire model for PUT /v1/quotas/{project} and /v1/quota_classes/{name} (Zun's schema)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

# Limits are stored in INTEGER columns.
MAX_LIMIT = 2**31 - 1
_DIGITS = re.compile(r"^-?[0-9]+$")


def _limit(value: Any) -> int:
    # Zun takes an integer or a string of digits (what a query parameter carries), -1 being
    # "unlimited". Zun's jsonschema lets "-5" through (`minimum` ignores strings); not here.
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer, or a string of digits")
    if not -1 <= value <= MAX_LIMIT:
        raise ValueError(f"must be -1 (unlimited) or between 0 and {MAX_LIMIT}")
    return value


Limit = Annotated[int | None, BeforeValidator(_limit)]


class QuotaUpdate(BaseModel):
    """Some of the four limits; the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    containers: Limit = None
    memory: Limit = None
    cpu: Limit = None
    disk: Limit = None

    def limits(self) -> dict[str, int]:
        """The limits the request names (a null never passes validation)."""
        return {k: v for k, v in self.model_dump(exclude_unset=True).items() if v is not None}
