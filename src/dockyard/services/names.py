"""Default container names in Zun's style: <adjective>-<number>-container."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "kind", "lively", "merry",
    "nimble", "proud", "quiet", "rapid", "silly", "swift", "tidy", "vivid", "witty", "zesty",
)  # fmt: skip


def random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.randbelow(100000)}-container"
