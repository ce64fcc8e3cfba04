"""How Dockyard marks the engine objects it makes: labels, kinds and sandbox names.

Apart from the port (base.py) because everything that finds Dockyard's objects on an engine
reads these (both runtimes, the agent's reconcile and pool, the tests' clean-up) without
needing the runtime interface itself.
"""

from __future__ import annotations

# Every engine object Dockyard makes carries these labels; the agent finds its objects by
# label, never by name, so that a crash at any step is resumed rather than repeated. The one
# exception is the claim of a pool sandbox, which only a rename can record (claimed_uuid).
LABEL_CONTAINER = "io.dockyard.container"
LABEL_HOST = "io.dockyard.host"
LABEL_PROJECT = "io.dockyard.project"
LABEL_GENERATION = "io.dockyard.generation"
LABEL_KIND = "io.dockyard.kind"  # container | init | sandbox; absent on old containers: container
# The sandbox uuid: on a sandbox made for it (a claimed pool sandbox has it in its name
# only) and on containers whose RunSpec names it.
LABEL_SANDBOX = "io.dockyard.sandbox"
LABEL_CAPSULE = "io.dockyard.capsule"
LABEL_VOLUME = "io.dockyard.volume"  # a project's named volume's uuid, on its engine volume
LABEL_POOL = "io.dockyard.pool"  # "1" on a warm pool sandbox, which carries no tenant data

KIND_CONTAINER = "container"
KIND_INIT = "init"
KIND_SANDBOX = "sandbox"

SANDBOX_NAME_PREFIX = "dockyard-sandbox-"
POOL_NAME_PREFIX = "dockyard-pool-"


def sandbox_name(uuid: str) -> str:
    """The engine name of sandbox uuid (also what claiming renames a pool sandbox to)."""
    return SANDBOX_NAME_PREFIX + uuid


def claimed_uuid(name: str, labels: dict[str, str]) -> str | None:
    """The uuid of a claimed pool sandbox, read from its engine name, or None if still free.

    Engine labels cannot change after creation, so a claim renames the pool sandbox
    (atomically, in the engine) and the name is the durable record of the claim: the one
    place Dockyard reads identity from a name rather than a label.
    """
    name = name.lstrip("/")
    if labels.get(LABEL_POOL) == "1" and name.startswith(SANDBOX_NAME_PREFIX):
        return name[len(SANDBOX_NAME_PREFIX) :]
    return None
