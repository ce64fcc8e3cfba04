"""Policy rules of the networking API (Neutron's names, prefixed `neutron:`); services/policy.py
registers them. Every project manages its own networks, as in Neutron."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

_OWNER = "rule:admin_or_owner"
_VERBS = {"get": "List or show", "create": "Create", "update": "Change", "delete": "Delete"}
_RESOURCES = ("network", "subnet", "subnetpool", "security_group", "security_group_rule")


def _rules() -> list[RuleDefault]:
    found = [RuleDefault("neutron:get_extension", _OWNER, "List the API's extensions."),
             RuleDefault("neutron:get_port", _OWNER, "List or show ports.")]  # fmt: skip
    for resource in _RESOURCES:
        for verb, what in _VERBS.items():
            if resource == "security_group_rule" and verb == "update":
                continue
            found.append(RuleDefault(f"neutron:{verb}_{resource}", _OWNER, f"{what} {resource}s."))
    return found


NETWORK_DEFAULTS: tuple[RuleDefault, ...] = (
    *_rules(),
    RuleDefault("network:create", _OWNER, "Create a container network (Zun's /v1/networks)."),
    RuleDefault("network:get_all", _OWNER, "List container networks."),
    RuleDefault("network:get_one", _OWNER, "Show a container network."),
    RuleDefault("network:delete", _OWNER, "Delete a container network."),
    RuleDefault("container:network_attach", _OWNER, "Connect a container to a network."),
    RuleDefault("container:network_detach", _OWNER, "Disconnect a container from a network."),
    RuleDefault("container:network_list", _OWNER, "List a container's networks."),
    RuleDefault("container:add_security_group", _OWNER, "Add a security group to a container."),
    RuleDefault("container:remove_security_group", _OWNER, "Remove a container's group."),
)
