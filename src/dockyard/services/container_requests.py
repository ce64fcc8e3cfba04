"""What a container request asks for, judged before any transaction: a create body made into
the engine-neutral ContainerSpec (Zun's wire meanings per microversion, the deployment's
limits, the policy on privileged options) and an exec command made into argv. Pure, apart from
containers.py, which owns the transactions and state changes that follow."""

from __future__ import annotations

import shlex
from dataclasses import fields
from typing import Any

from dockyard.domain.containerspec import ContainerSpec, Healthcheck, RestartPolicy, port_of
from dockyard.domain.tenancy import RequestContext
from dockyard.errors import InvalidValue
from dockyard.schemas.containers import ContainerCreate
from dockyard.services import policy
from dockyard.settings import Settings


def check_create_policy(ctx: RequestContext, body: ContainerCreate) -> None:
    """NotAuthorized for an option the caller's role may not ask for; InvalidValue for one
    these hosts do not offer."""
    if body.privileged:
        policy.authorize(ctx, "container:create:privileged")
    if body.runtime:
        policy.authorize(ctx, "container:create:runtime")
    if body.image_pull_policy:
        policy.authorize(ctx, "container:create:image_pull_policy")
    if body.host:
        policy.authorize(ctx, "container:create:requested_destination")
    if body.disk:
        raise InvalidValue("Specifying disk is not supported by this storage driver.")
    if body.cpu_policy == "dedicated":
        raise InvalidValue("cpu_policy 'dedicated' is not supported on these hosts.")
    if body.image_driver == "glance":
        raise InvalidValue("image_driver 'glance' is not available; use 'docker'.")


def spec_of(body: ContainerCreate, settings: Settings, *, legacy_command: bool) -> ContainerSpec:
    """The spec a create body asks for, defaults applied.

    A spec field that ContainerCreate has under the same name is copied as it is (None
    there meaning the spec's default); the fields below are those whose meaning on the wire
    differs from the spec's.
    """
    limits = settings.containers
    cpu = float(body.cpu if body.cpu is not None else limits.default_cpu)
    memory = int(body.memory) if body.memory is not None else limits.default_memory
    check_resources(settings, cpu, memory)
    derived: dict[str, Any] = {
        "command": _command(body.command, legacy_command),
        "cpu": cpu,
        "memory": memory,
        "restart_policy": _restart_policy(body),
        "tty": body.tty if body.tty is not None else body.interactive,
        "exposed_ports": _ports(body.exposed_ports),
        "healthcheck": _healthcheck(body),
        "requested_host": body.host,
        "registry_id": None,  # `registry` names it; create() resolves it in the project
    }
    copied = {
        f.name: value
        for f in fields(ContainerSpec)
        if f.name not in derived and (value := getattr(body, f.name, None)) is not None
    }
    return ContainerSpec(**derived, **copied)


def check_resources(settings: Settings, cpu: float | None, memory: int | None) -> None:
    """InvalidValue unless cpu and memory (where given) are within the deployment's limits."""
    limits = settings.containers
    if cpu is not None and not limits.minimum_cpus <= cpu <= limits.maximum_cpus:
        raise InvalidValue(
            f"Invalid cpu {cpu}: must be between {limits.minimum_cpus} and {limits.maximum_cpus}."
        )
    if memory is not None and not limits.minimum_memory <= memory <= limits.maximum_memory:
        raise InvalidValue(
            f"Invalid memory {memory} MiB: must be between {limits.minimum_memory} and "
            f"{limits.maximum_memory} MiB."
        )


def _command(command: str | list[str] | None, legacy_command: bool) -> list[str] | None:
    if isinstance(command, str):
        if not legacy_command:
            raise InvalidValue("command must be an array of strings from microversion 1.20.")
        try:
            return shlex.split(command)
        except ValueError as exc:
            raise InvalidValue(f"Invalid command: {exc}") from None
    if command is not None and legacy_command:
        raise InvalidValue("command must be a string before microversion 1.20.")
    return command


def _healthcheck(body: ContainerCreate) -> Healthcheck | None:
    check = body.healthcheck
    if check is None:
        return None
    return Healthcheck(check.cmd, check.interval, check.retries, check.timeout)


def _restart_policy(body: ContainerCreate) -> RestartPolicy:
    policy_in = body.restart_policy
    if policy_in is None:
        return RestartPolicy("no", 0)
    count = policy_in.MaximumRetryCount
    if policy_in.Name in ("always", "unless-stopped") and count:
        raise InvalidValue(f"MaximumRetryCount must be 0 for restart policy {policy_in.Name}.")
    if policy_in.Name == "no":
        count = 0
    return RestartPolicy(policy_in.Name, count)


def _ports(exposed: dict[str, Any] | None) -> list[str]:
    result = []
    for key in exposed or {}:
        port, proto = port_of(key)
        result.append(f"{port}/{proto}")
    return result


def exec_argv(command: str) -> list[str]:
    """An exec's command line split as a shell would (Zun sends one string); never empty."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidValue(f"Invalid command: {exc}") from exc
    if not argv:
        raise InvalidValue("command must not be empty.")
    return argv
