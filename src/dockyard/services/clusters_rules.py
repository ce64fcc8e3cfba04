"""Policy rules of the clustering API, by Senlin's names; services/policy.py registers them."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

_OWNER = "rule:admin_or_owner"

# (rule, what it allows); every one defaults to the project's members, as in Senlin.
_RULES = (
    ("build_info:build_info", "Show the clustering service's build information."),
    ("profile_types:index", "List profile types."),
    ("profile_types:get", "Show a profile type."),
    ("profiles:index", "List profiles."),
    ("profiles:create", "Create a profile."),
    ("profiles:get", "Show a profile."),
    ("profiles:update", "Update a profile."),
    ("profiles:delete", "Delete a profile."),
    ("profiles:validate", "Validate a profile spec."),
    ("policy_types:index", "List policy types."),
    ("policy_types:get", "Show a policy type."),
    ("policies:index", "List policies."),
    ("policies:create", "Create a policy."),
    ("policies:get", "Show a policy."),
    ("policies:update", "Update a policy."),
    ("policies:delete", "Delete a policy."),
    ("policies:validate", "Validate a policy spec."),
    ("clusters:index", "List clusters."),
    ("clusters:create", "Create a cluster."),
    ("clusters:get", "Show a cluster."),
    ("clusters:update", "Update a cluster (its profile: a rolling update)."),
    ("clusters:delete", "Delete a cluster and its members."),
    ("clusters:action", "Resize, scale, check, recover a cluster; attach and detach policies."),
    ("cluster_policies:index", "List a cluster's policy bindings."),
    ("cluster_policies:get", "Show a cluster's policy binding."),
    ("nodes:index", "List nodes."),
    ("nodes:create", "Create a node."),
    ("nodes:get", "Show a node."),
    ("nodes:update", "Update a node."),
    ("nodes:delete", "Delete a node."),
    ("nodes:action", "Check or recover a node."),
    ("nodes:adopt", "Adopt a container of the project as a node."),
    ("nodes:adopt_preview", "Preview the profile a container would be adopted with."),
    ("receivers:index", "List receivers."),
    ("receivers:create", "Create a receiver."),
    ("receivers:get", "Show a receiver."),
    ("receivers:update", "Update a receiver."),
    ("receivers:delete", "Delete a receiver."),
    ("actions:index", "List actions."),
    ("actions:get", "Show an action."),
    ("actions:update", "Cancel an action."),
    ("events:index", "List events."),
    ("events:get", "Show an event."),
)
CLUSTER_DEFAULTS: tuple[RuleDefault, ...] = (
    *(RuleDefault(name, _OWNER, what) for name, what in _RULES),
    RuleDefault("clusters:global_project", "rule:admin_api", "List every project's objects."),
)
