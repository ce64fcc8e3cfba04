"""Who may do what: Zun's default policy rules, and an operator's file that overrides them.

oslo.policy parses and enforces the rules (services/policyrules.py first refuses what it would
accept silently). `%(project_id)s` names the project a request acts on, by default the
caller's own: another project's objects never reach a rule, because tenancy scoping has
already turned them into 404s.

The policy in force travels with the request: the API layer puts it in the RequestContext
(`ctx.policy`), so `authorize(ctx, rule)` checks the operator's file wherever it runs (in a
route, a service, a background task), and a context without a policy fails loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import yaml
from oslo_config import cfg
from oslo_policy import policy as oslo

from dockyard.domain.tenancy import RequestContext
from dockyard.errors import PolicyNotAuthorized
from dockyard.services.clusters_rules import CLUSTER_DEFAULTS
from dockyard.services.netrules import NETWORK_DEFAULTS
from dockyard.services.policyrules import (
    BaseCheck,
    RuleError,
    Target,
    UnknownRuleName,
    check_references,
    parse_rule,
)
from dockyard.settings import ConfigError

log = logging.getLogger(__name__)

OWNER = "rule:admin_or_owner"
ADMIN = "rule:admin_api"
DENY = "rule:deny_everybody"


RuleDefault = oslo.RuleDefault


def _owner(name: str, what: str) -> RuleDefault:
    return RuleDefault(name, OWNER, what)


def _admin(name: str, what: str) -> RuleDefault:
    return RuleDefault(name, ADMIN, what)


# Zun's defaults (zun/common/policies); the order is the order `policy-defaults` prints.
DEFAULTS: tuple[RuleDefault, ...] = (
    RuleDefault("context_is_admin", "role:admin", "Who is an administrator."),
    RuleDefault("admin_or_owner", "is_admin:True or project_id:%(project_id)s", "Admin or owner."),
    RuleDefault("admin_api", "rule:context_is_admin", "Administrators only."),
    RuleDefault("deny_everybody", "!", "Nobody."),
    _owner("container:create", "Create a container."),
    RuleDefault("container:create:privileged", DENY, "Create a privileged container."),
    _admin("container:create:runtime", "Choose the runtime of a new container."),
    _admin("container:create:image_pull_policy", "Choose the image pull policy."),
    _admin("container:create:requested_destination", "Choose the host of a new container."),
    _owner("container:get_all", "List containers."),
    _admin("container:get_all_all_projects", "List the containers of every project."),
    _owner("container:get_one", "Show a container."),
    _admin("container:get_one_all_projects", "Show a container of any project."),
    _admin("container:get_one:host", "See (and filter by) a container's host."),
    _admin("container:get_one:image_pull_policy", "See a container's image pull policy."),
    _admin("container:get_one:privileged", "See whether a container is privileged."),
    _admin("container:get_one:runtime", "See a container's runtime."),
    _owner("container:update", "Rename or resize a container (PATCH)."),
    _owner("container:delete", "Delete a container."),
    _admin("container:delete_all_projects", "Delete a container of any project."),
    _admin("container:delete_force", "Delete a container whatever its state (force)."),
    _owner("container:start", "Start a container."),
    _owner("container:stop", "Stop a container."),
    _owner("container:reboot", "Restart a container."),
    _owner("container:pause", "Pause a container."),
    _owner("container:unpause", "Unpause a container."),
    _owner("container:kill", "Send a signal to a container."),
    _owner("container:rename", "Rename a container (microversions before 1.14)."),
    _owner("container:logs", "Read a container's logs."),
    _owner("container:execute", "Run a command in a container."),
    _owner("container:execute_resize", "Resize the TTY of an interactive execute."),
    _owner("container:attach", "Attach to an interactive container's console."),
    _owner("container:resize", "Resize the TTY of an interactive container."),
    _owner("container:top", "List a container's processes."),
    _owner("container:stats", "Read a container's resource usage."),
    _owner("container:get_archive", "Copy files out of a container (as a tar)."),
    _owner("container:put_archive", "Copy files into a container (as a tar)."),
    _owner("container:commit", "Make an image of a container."),
    _owner("container:resize_container", "Change a container's cpu and memory (1.19)."),
    _owner("container:rebuild", "Remake a container, optionally from another image."),
    _owner("container:actions", "List a container's actions and show one."),
    _admin("container:action:events", "See the tracebacks in a container action's events."),
    _owner("capsule:create", "Create a capsule."),
    _owner("capsule:get_all", "List capsules."),
    _admin("capsule:get_all_all_projects", "List the capsules of every project."),
    _owner("capsule:get", "Show a capsule."),
    _admin("capsule:get_one_all_projects", "Show a capsule of any project."),
    _admin("capsule:get:host", "See a capsule's host."),
    _owner("capsule:delete", "Delete a capsule."),
    _admin("capsule:delete_all_projects", "Delete a capsule of any project."),
    _owner("sandbox:get_all", "List sandboxes (a Dockyard extension)."),
    _admin("sandbox:get_all_all_projects", "List the sandboxes of every project."),
    _owner("sandbox:get_one", "Show a sandbox and its members."),
    _admin("host:get_all", "List compute hosts."),
    _admin("host:get", "Show a compute host."),
    _admin("zun-service:get_all", "List services."),
    _admin("zun-service:delete", "Delete a service."),
    _admin("zun-service:enable", "Enable a service."),
    _admin("zun-service:disable", "Disable a service."),
    _admin("zun-service:force_down", "Force a service down."),
    _owner("availability_zones:get_all", "List availability zones."),
    _admin("image:pull", "Pull an image onto a host."),
    _admin("image:get_all", "List images."),
    _admin("image:get_one", "Show an image."),
    _admin("image:delete", "Delete an image."),
    _owner("image:search", "Search for an image."),
    _owner("registry:create", "Create a private registry record."),
    _owner("registry:get_all", "List private registries."),
    _admin("registry:get_all_all_projects", "List the registries of every project."),
    _owner("registry:get_one", "Show a private registry."),
    _owner("registry:update", "Change a private registry."),
    _owner("registry:delete", "Delete a private registry."),
    _owner("volume:create", "Create a named volume (a Dockyard extension)."),
    _owner("volume:get_all", "List named volumes."),
    _admin("volume:get_all_all_projects", "List the volumes of every project."),
    _owner("volume:get_one", "Show a named volume."),
    _owner("volume:delete", "Delete a named volume."),
    _admin("volume:create:host", "Create a volume on a given host."),
    _owner("quota:get", "Show a project's quotas."),
    _owner("quota:get_default", "Show the default quotas."),
    _admin("quota:update", "Change a project's quotas."),
    _admin("quota:delete", "Reset a project's quotas to the defaults."),
    _admin("quota_class:get", "Show a quota class."),
    _admin("quota_class:update", "Change a quota class."),
    *CLUSTER_DEFAULTS,
    *NETWORK_DEFAULTS,
)
DEFAULT_RULES: dict[str, str] = {d.name: d.check_str for d in DEFAULTS}
DECISIONS_KEPT = 4096  # remembered policy decisions per Policy


def _items(target: Target) -> tuple[object, ...]:
    return tuple(sorted((str(k), repr(v)) for k, v in target.items()))


class Policy:
    """Dockyard's defaults with the overrides applied, enforced by an oslo.policy Enforcer."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        unknown = sorted(set(overrides or {}) - set(DEFAULT_RULES))
        if unknown:
            raise UnknownRuleName(f"unknown rule name(s): {', '.join(unknown)}")
        self.texts = {**DEFAULT_RULES, **(overrides or {})}
        rules: dict[str, BaseCheck] = {}
        for name, text in self.texts.items():
            try:
                rules[name] = parse_rule(text)
            except RuleError as exc:
                raise RuleError(f"rule {name!r} ({text!r}): {exc}") from None
        check_references(rules)
        # Its own ConfigOpts: oslo.config's global CONF is never touched, and with
        # use_conf=False the Enforcer reads no file of its own; we give it every rule.
        self._enforcer = oslo.Enforcer(cfg.ConfigOpts(), use_conf=False)
        self._enforcer.register_defaults(DEFAULTS)
        self._enforcer.set_rules(oslo.Rules(rules), use_conf=False)
        # The rules never change after this, so a decision depends only on its inputs; and
        # oslo.policy is slow per check (it inspects each check's signature every call),
        # which showed in every GET. Bounded: cleared when full (keys are a few roles).
        self._decisions: dict[tuple[object, ...], bool] = {}

    def is_allowed(self, ctx: RequestContext, rule: str, target: Target | None = None) -> bool:
        """Whether rule allows ctx to act on target (default: the caller's own project)."""
        if rule not in self.texts:  # a bug, not a request problem: fail closed, loudly
            log.error("policy rule %r is not defined; denying", rule)
            return False
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        roles = sorted(ctx.roles)
        key = (rule, ctx.project_id, ctx.user_id, ctx.is_admin, *roles, "|", *_items(target))
        decided = self._decisions.get(key)
        if decided is None:
            creds = {
                "project_id": ctx.project_id,
                "user_id": ctx.user_id,
                "roles": roles,
                "is_admin": ctx.is_admin,
            }
            decided = bool(self._enforcer.enforce(rule, dict(target), creds))
            if len(self._decisions) >= DECISIONS_KEPT:
                self._decisions.clear()
            self._decisions[key] = decided
        return decided


def load_policy(path: Path | None) -> Policy:
    """The defaults overridden by a YAML or JSON policy file; ConfigError if it is unusable."""
    if path is None:
        return Policy()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"policy file {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"policy file {path} is neither YAML nor JSON: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(f"policy file {path}: expected a mapping of rule name to rule string")
    try:
        return Policy(data)
    except RuleError as exc:
        hint = (
            " (`dockyard policy-defaults` lists them all)"
            if isinstance(exc, UnknownRuleName)
            else ""
        )
        raise ConfigError(f"policy file {path}: {exc}{hint}") from None


def defaults_yaml() -> str:
    """Every rule with its default, as a policy file an operator can start from."""
    lines = ["# Dockyard's default policy (Zun's defaults). Override rules in a file named by",
             "# DOCKYARD_AUTH__POLICY_FILE; rules left out keep these defaults."]  # fmt: skip
    for default in DEFAULTS:
        lines += [f"# {default.description}", f'"{default.name}": "{default.check_str}"']
    return "\n".join(lines) + "\n"


# --- checks against the policy the request carries -----------------------------------------


class NoPolicyInContext(RuntimeError):
    """A check on a context the API layer never gave a policy: a bug, so it fails loudly."""


def is_allowed(ctx: RequestContext, rule: str, target: Target | None = None) -> bool:
    """Whether the request's policy lets ctx act on target (default: its own project)."""
    if ctx.policy is None:
        raise NoPolicyInContext(f"policy rule {rule!r} checked on a context without a policy")
    return ctx.policy.is_allowed(ctx, rule, target)


def authorize(ctx: RequestContext, rule: str, target: Target | None = None) -> None:
    """Raise PolicyNotAuthorized (403) unless the rule allows the request."""
    if not is_allowed(ctx, rule, target):
        raise PolicyNotAuthorized(action=rule)
