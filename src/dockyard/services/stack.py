"""The control plane's services over one database: what a replica opens at start-up.

Lives here, not in api/app.py, so the API layer reaches the database only through services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dockyard.db.changes import ChangeFeed, recheck_interval
from dockyard.db.engine import create_engine, session_factory, upgrade_to_head
from dockyard.services.actions import ActionService
from dockyard.services.batchscheduler import Scheduler
from dockyard.services.capsules import CapsuleService
from dockyard.services.clusters_stack import Clustering, open_clustering
from dockyard.services.container_networks import ContainerNetworking
from dockyard.services.container_operations import ContainerOperations
from dockyard.services.containerfiles import ContainerFiles
from dockyard.services.containers import ContainerService
from dockyard.services.hostadmin import HostAdmin
from dockyard.services.hostcalls import HostCalls
from dockyard.services.hostdirectory import HostDirectory
from dockyard.services.hosts import HostService
from dockyard.services.images import ImageService
from dockyard.services.networks import NetworkService
from dockyard.services.ports import PortService
from dockyard.services.quotas import QuotaService
from dockyard.services.registries import RegistryService
from dockyard.services.sandboxes import SandboxService
from dockyard.services.secrets import SecretBox
from dockyard.services.security_groups import SecurityGroupService
from dockyard.services.signals import Wakeups
from dockyard.services.streams import HostStreams, StreamService
from dockyard.services.volumes import LocalVolumes, VolumeService
from dockyard.services.zunnetworks import ZunNetworkService
from dockyard.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    containers: ContainerService
    hosts: HostService
    admin: HostAdmin
    quotas: QuotaService
    sandboxes: SandboxService
    capsules: CapsuleService
    wakeups: Wakeups
    clustering: Clustering
    actions: ActionService
    images: ImageService
    registries: RegistryService
    files: ContainerFiles
    operations: ContainerOperations
    streams: StreamService
    networks: NetworkService
    ports: PortService
    zunnetworks: ZunNetworkService
    volumes: VolumeService
    security_groups: SecurityGroupService
    container_networks: ContainerNetworking


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    hostcalls: HostCalls,
    *,
    hoststreams: HostStreams,
) -> AsyncIterator[Services]:
    """Upgrade the database to head, follow its changes, build every service on it, and run
    this replica's scheduler loop unless it is disabled."""
    url = settings.database_url()
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(url, echo=settings.database.echo)
    wakeups = Wakeups.rechecking(recheck_interval(url))
    feed = ChangeFeed(url, wakeups.deliver, wakeups.wake_all)
    await feed.start()
    sessions = session_factory(engine, feed)
    directory = HostDirectory(sessions, settings.scheduler)
    wakeups.followers.append(directory)  # claims of every replica reach its index
    scheduler = Scheduler(sessions, settings.scheduler, directory, wakeups.schedule)
    containers = ContainerService(
        sessions, settings, hostcalls, directory, wakeups.containers, placer=scheduler
    )
    capsules = CapsuleService(sessions, settings, directory)
    clustering = open_clustering(sessions, settings, containers, hostcalls, capsules)
    secrets = SecretBox(settings)
    registries = RegistryService(sessions, secrets)
    images = ImageService(sessions, settings, hostcalls, registries)
    try:
        clustering.loop.start()
        if settings.scheduler.enabled:
            scheduler.start()
        else:
            log.info("scheduler disabled here: other replicas place containers")
        yield Services(
            settings=settings,
            containers=containers,
            hosts=HostService(sessions, settings, wakeups.hosts, directory, secrets),
            admin=HostAdmin(sessions, directory),
            quotas=QuotaService(sessions, settings),
            sandboxes=SandboxService(sessions),
            capsules=capsules,
            wakeups=wakeups,
            clustering=clustering,
            actions=ActionService(sessions),
            images=images,
            registries=registries,
            files=ContainerFiles(sessions, containers, hostcalls),
            operations=ContainerOperations(containers, hostcalls, settings),
            streams=StreamService(sessions, settings, hoststreams),
            networks=NetworkService(sessions),
            ports=PortService(sessions),
            zunnetworks=ZunNetworkService(sessions),
            volumes=VolumeService(sessions, LocalVolumes(directory, hostcalls, settings)),
            security_groups=SecurityGroupService(sessions),
            container_networks=ContainerNetworking(sessions),
        )
    finally:
        await images.close()
        await clustering.loop.stop()
        await scheduler.stop()
        await feed.stop()
        await engine.dispose()
