"""The static tokens backend: loading the file, matching tokens, never showing one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dockyard.api.auth.tokens import StaticTokens
from dockyard.errors import Unauthenticated
from dockyard.settings import ConfigError

SECRET = "s3cret-token-that-must-never-be-shown"
OTHER = "another-token-that-must-never-be-shown"


def entry(token: object = SECRET, **over: Any) -> dict[str, Any]:
    return {"token": token, "project_id": "alpha", "user_id": "alice", "roles": ["member"], **over}


def tokens_file(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "tokens.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


async def test_a_listed_token_gives_its_project_user_and_roles(tmp_path: Path) -> None:
    admin = entry(OTHER, project_id="ops", user_id="root", roles=["Admin", "member"])
    tokens = StaticTokens.from_file(tokens_file(tmp_path, [entry(), admin]))
    member = await tokens.authenticate(SECRET)
    assert (member.project_id, member.user_id, member.roles) == (
        "alpha",
        "alice",
        frozenset({"member"}),
    )
    assert not member.is_admin
    root = await tokens.authenticate(OTHER)
    assert root.project_id == "ops"
    assert root.is_admin


@pytest.mark.parametrize("token", [None, "", "nope", SECRET[:-1], SECRET + "x", SECRET.upper()])
async def test_any_other_token_is_unauthenticated(tmp_path: Path, token: str | None) -> None:
    tokens = StaticTokens.from_file(tokens_file(tmp_path, [entry()]))
    with pytest.raises(Unauthenticated):
        await tokens.authenticate(token)


def test_roles_may_be_left_out(tmp_path: Path) -> None:
    item = entry()
    del item["roles"]
    assert StaticTokens.from_file(tokens_file(tmp_path, [item]))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a non-empty list"),
        ({"token": SECRET}, "expected a non-empty list"),
        ([entry(project_id="")], "entry 1: project_id: String should have at least 1 character"),
        ([entry(), {"token": OTHER, "user_id": "u"}], "entry 2: project_id: Field required"),
        (
            [entry(colour="blue")],
            "entry 1: Additional properties are not allowed ('colour' was unexpected)",
        ),
        ([entry(token=123456)], "entry 1: token: Input should be a valid string"),
        ([entry(), entry(user_id="bob")], "entries 1 and 2 have the same token"),
        ([SECRET], "entry 1: entry: Input should be a valid dictionary"),
        (f"- token: {SECRET}\n  roles: [unclosed\n", "not valid YAML at line"),
    ],
)
def test_unusable_file_is_a_start_up_error_that_shows_no_token(
    tmp_path: Path, data: Any, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        StaticTokens.from_file(tokens_file(tmp_path, data))
    assert SECRET not in str(raised.value)
    assert OTHER not in str(raised.value)


def test_missing_file_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        StaticTokens.from_file(tmp_path / "absent.yaml")


def test_a_file_every_user_may_read_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tokens_file(tmp_path, [entry()])
    path.chmod(0o644)
    StaticTokens.from_file(path)
    assert "readable by every local user" in caplog.text
    assert SECRET not in caplog.text
