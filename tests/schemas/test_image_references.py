"""Image references follow the engines' grammar: what can never be pulled is refused early."""

from __future__ import annotations

import pytest

from dockyard.schemas.containers import check_image_reference

VALID = [
    "busybox",
    "busybox:1.36",
    "library/busybox:latest",
    "registry.example.com:5000/team/app:v1.2-rc_3",
    "localhost:5000/app",
    "[::1]:5000/app:1",
    "Registry.Example.com/app",  # a registry host may have capitals, a path may not
    "dockyard.local/demo:1",
    "app@sha256:" + "0" * 64,
    "my-app__x.y/sub--path:tag@sha256:" + "a" * 64,
]

INVALID = [
    "IMAGE",
    "Busybox",
    "busy box",
    "busybox:",
    ":tag",
    "busybox:-tag",
    "busybox:" + "t" * 129,
    "busybox@sha256:xyz",
    "busybox@sha256",
    "library//busybox",
    "/busybox",
    "busybox/",
    "app_",
    "_app",
    "a___b",
    "a" * 256,
]


@pytest.mark.parametrize("ref", VALID)
def test_a_reference_an_engine_accepts_is_valid(ref: str) -> None:
    assert check_image_reference(ref) == ref


@pytest.mark.parametrize("ref", INVALID)
def test_a_reference_no_engine_accepts_is_refused_with_its_value(ref: str) -> None:
    with pytest.raises(ValueError, match="Invalid image reference"):
        check_image_reference(ref)
