"""Host credentials: random secrets of which the control plane keeps only a hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    """A fresh 256-bit secret, URL-safe (it travels in an Authorization header)."""
    return secrets.token_urlsafe(32)


def hash_of(secret: str) -> str:
    """SHA-256 hex: the secret is already 256 random bits, so no salt or stretching is needed;
    a stolen database yields no usable credential."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so the time taken tells nothing about the expected value."""
    return hmac.compare_digest(given.encode(), expected.encode())
