"""The `dockyard` command."""

from __future__ import annotations

import click

from dockyard.cli import (
    clean,
    clusters,
    consoles,
    containers,
    images,
    networks,
    operations,
    server,
    volumes,
)


@click.group()
@click.version_option(package_name="dockyard")
def main() -> None:
    """Dockyard: containers as a service, speaking the OpenStack Zun API."""


main.add_command(server.serve)
main.add_command(server.api)
main.add_command(server.agent)
main.add_command(server.policy_defaults)
main.add_command(clean.clean)
main.add_command(clusters.cluster)
main.add_command(volumes.volume)
main.add_command(networks.network)
# Imported for the commands they add to commands.COMMANDS, which containers.register() adds.
_COMMAND_MODULES = (images, operations, consoles)
containers.register(main)
