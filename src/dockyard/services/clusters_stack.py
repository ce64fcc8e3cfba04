"""The clustering services of one replica, and its cluster controller loop."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.db.engine import Sessions
from dockyard.services.capsules import CapsuleService
from dockyard.services.clusters import ClusterService
from dockyard.services.clusters_actions import ClusterActions
from dockyard.services.clusters_adopt import Adoption
from dockyard.services.clusters_controller import Controller
from dockyard.services.clusters_loop import ClusterLoop
from dockyard.services.clusters_members import Members
from dockyard.services.clusters_objects import ClusterObjects
from dockyard.services.clusters_poll import MemberPoller
from dockyard.services.clusters_standalone import StandaloneNodes
from dockyard.services.containers import ContainerService
from dockyard.services.hostcalls import HostCalls
from dockyard.services.policy import load_policy
from dockyard.settings import Settings


@dataclass
class Clustering:
    clusters: ClusterService
    actions: ClusterActions
    objects: ClusterObjects
    loop: ClusterLoop
    adoption: Adoption


def open_clustering(
    sessions: Sessions,
    settings: Settings,
    containers: ContainerService,
    hostcalls: HostCalls,
    capsules: CapsuleService | None = None,
) -> Clustering:
    """The services; the caller starts (and stops) the loop. The health policy's polls go
    through `hostcalls` to the members' hosts."""
    # The controller acts under the operator's policy, as requests do.
    rules = load_policy(settings.auth.policy_file)
    members = Members(containers, sessions, settings, capsules)
    loop = ClusterLoop(
        sessions, Controller(sessions, members, rules, MemberPoller(sessions, hostcalls))
    )
    actions = ClusterActions(sessions, loop.wake)
    return Clustering(
        clusters=ClusterService(sessions, loop.wake),
        actions=actions,
        objects=ClusterObjects(
            sessions, actions, rules, loop.wake, StandaloneNodes(sessions, members, rules)
        ),
        loop=loop,
        adoption=Adoption(sessions, containers),
    )
