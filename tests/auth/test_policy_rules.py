"""The policy rule language, Zun's defaults, and policy files (pure: no server)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
import yaml
from oslo_config import cfg

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import PolicyNotAuthorized
from dockyard.services import policy
from dockyard.services.policy import DEFAULT_RULES, Policy, defaults_yaml, load_policy
from dockyard.services.policyrules import RuleError, parse_rule
from dockyard.settings import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = Policy()
MEMBER = RequestContext("alpha", "alice", frozenset({"member"}), policy=DEFAULTS)
ADMIN = RequestContext("ops", "root", frozenset({"admin"}), policy=DEFAULTS)
READER = RequestContext("alpha", "rita", frozenset({"reader"}), policy=DEFAULTS)


def allows(rule: str, ctx: RequestContext, target: dict[str, str] | None = None) -> bool:
    return Policy({"container:stop": rule}).is_allowed(ctx, "container:stop", target)


@pytest.mark.parametrize(
    ("rule", "member", "admin"),
    [
        ("@", True, True),
        ("!", False, False),
        ("", True, True),  # oslo.policy: an empty rule allows
        ("role:member", True, False),
        ("role:MEMBER", True, False),  # role names are case-insensitive
        ("role:admin", False, True),
        ("is_admin:True", False, True),
        ("is_admin:false", True, False),
        ("project_id:%(project_id)s", True, True),  # the target defaults to the caller's project
        ("project_id:alpha", True, False),
        ("user_id:alice", True, False),
        ("role:admin or role:member", True, True),
        ("role:member and project_id:alpha", True, False),
        ("not role:admin", True, False),
        ("(role:admin or role:member) and not user_id:alice", False, True),
        ("((role:admin))", False, True),
        ("role:reader or (project_id:%(project_id)s and role:member)", True, False),
        ("rule:admin_or_owner", True, True),
        ("rule:admin_api", False, True),
        ("rule:deny_everybody", False, False),
    ],
)
def test_rule_language(rule: str, member: bool, admin: bool) -> None:
    assert allows(rule, MEMBER) is member
    assert allows(rule, ADMIN) is admin


def test_and_binds_tighter_than_or() -> None:
    assert allows("role:admin or role:member and user_id:nobody", ADMIN)
    assert not allows("role:admin or role:member and user_id:nobody", MEMBER)


def test_owner_rule_compares_with_the_target_project() -> None:
    rule = "project_id:%(project_id)s"
    assert allows(rule, MEMBER, {"project_id": "alpha"})
    assert not allows(rule, MEMBER, {"project_id": "beta"})
    assert not allows(rule, MEMBER, {})


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("role", "not a check"),
        ("owner:alpha", "not a check"),
        ("role:", "not a check"),
        ("role:admin or", "ends too early"),
        ("(role:admin", "ends too early"),
        ("role:admin)", "unexpected"),
        ("role:admin role:member", "unexpected"),
        ("is_admin:yes", "True or False"),
        ("project_id:%(tenant)s", "the target has only"),
    ],
)
def test_malformed_rules_are_rejected(rule: str, problem: str) -> None:
    with pytest.raises(RuleError, match=re.escape(problem)):
        parse_rule(rule)


def test_rules_may_not_refer_to_unknown_rules_or_in_a_loop() -> None:
    with pytest.raises(RuleError, match="unknown rule 'nope'"):
        Policy({"container:stop": "rule:nope"})
    with pytest.raises(RuleError, match="loop"):
        Policy({"admin_api": "rule:container:stop", "container:stop": "rule:admin_api"})


def test_zun_defaults() -> None:
    rules = Policy()
    owner_only = ["container:create", "container:get_all", "container:stop", "quota:get"]
    for rule in owner_only:
        assert rules.is_allowed(MEMBER, rule)
        assert rules.is_allowed(ADMIN, rule)
    admin_only = [
        "container:get_all_all_projects", "container:delete_force", "container:create:runtime",
        "container:create:requested_destination", "container:create:image_pull_policy",
        "container:get_one:host", "host:get_all", "zun-service:get_all", "image:pull",
        "quota:update", "quota_class:update",
    ]  # fmt: skip
    for rule in admin_only:
        assert not rules.is_allowed(MEMBER, rule), rule
        assert rules.is_allowed(ADMIN, rule), rule
    assert not rules.is_allowed(ADMIN, "container:create:privileged")
    assert not rules.is_allowed(READER, "host:get")


def test_the_enforcer_keeps_to_its_own_configuration() -> None:
    Policy({"container:stop": "!"})
    assert "oslo_policy" not in cfg.CONF  # oslo.config's global CONF is never touched


def test_an_undefined_rule_denies() -> None:
    assert not Policy().is_allowed(ADMIN, "container:no-such-rule")


def test_authorize_applies_the_policy_the_context_carries() -> None:
    relaxed = Policy({"container:delete_force": "role:member"})
    with pytest.raises(PolicyNotAuthorized):
        policy.authorize(MEMBER, "container:delete_force")
    policy.authorize(dataclasses.replace(MEMBER, policy=relaxed), "container:delete_force")
    with pytest.raises(PolicyNotAuthorized, match="container:delete_force"):
        policy.authorize(MEMBER, "container:delete_force")


def test_policy_file_in_yaml_or_json_overrides_defaults(tmp_path: Path) -> None:
    as_yaml = tmp_path / "policy.yaml"
    as_yaml.write_text('"container:delete_force": "role:member"\ncontainer:stop: "!"\n')
    as_json = tmp_path / "policy.json"
    as_json.write_text(json.dumps({"container:delete_force": "role:member", "container:stop": "!"}))
    for path in (as_yaml, as_json):
        rules = load_policy(path)
        assert rules.is_allowed(MEMBER, "container:delete_force")
        assert not rules.is_allowed(ADMIN, "container:stop")
        assert rules.is_allowed(MEMBER, "container:start")  # left out: the default


def test_empty_policy_file_keeps_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("# nothing overridden yet\n")
    assert load_policy(path).texts == DEFAULT_RULES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"container:frobnicate": "@"\n', "unknown rule name(s): container:frobnicate"),
        ('"container:stop": "role:admin or"\n', "rule 'container:stop'"),
        ("- a list\n", "expected a mapping"),
        ('"container:stop": 1\n', "expected a mapping"),
        ("key: [unclosed\n", "neither YAML nor JSON"),
    ],
)
def test_unusable_policy_file_is_a_clear_start_up_error(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)) as raised:
        load_policy(path)
    assert str(path) in str(raised.value)


def test_missing_policy_file_is_a_start_up_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_policy(tmp_path / "absent.yaml")


def test_printed_defaults_are_a_policy_file_that_loads_to_the_defaults(tmp_path: Path) -> None:
    printed = defaults_yaml()
    assert yaml.safe_load(printed) == DEFAULT_RULES
    path = tmp_path / "policy.yaml"
    path.write_text(printed)
    assert load_policy(path).texts == DEFAULT_RULES


def test_readme_lists_every_default_rule() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, rule in DEFAULT_RULES.items():
        assert f'"{name}": "{rule}"' in readme, f"README lacks {name}: run dockyard policy-defaults"


def test_readme_shows_exactly_what_policy_defaults_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.S)
    assert defaults_yaml() in blocks, "README is stale: paste `dockyard policy-defaults`"


def test_every_rule_the_code_checks_is_defined() -> None:
    used = set()
    for path in (ROOT / "src" / "dockyard").rglob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r"(?:authorize|is_allowed)\(\s*\w+,\s*\"([^\"]+)\"", text))
        used |= set(re.findall(r"_authorize_for_project\(\s*\w+,\s*\"([^\"]+)\"", text))
    used |= {
        f"container:get_one:{field}"
        for field in ("host", "runtime", "privileged", "image_pull_policy")
    }
    assert used
    assert used - set(DEFAULT_RULES) == set()
