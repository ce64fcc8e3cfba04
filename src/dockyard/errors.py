"""Dockyard's error tree: plain exceptions, no HTTP codes, no framework imports.

The API maps each family to a status in one table (api/errors.py). The class name is part of
the wire contract: Zun's error `code` is "container." + the kebab-cased class name, so the
names below follow Zun's where a Zun client could see them.
"""

from __future__ import annotations


class DockyardError(Exception):
    """Base of every error Dockyard raises on purpose."""

    message = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs: object) -> None:
        text = message if message is not None else self.message.format(**kwargs)
        super().__init__(text)
        self.text = text


# --- client errors -------------------------------------------------------------------------


class Invalid(DockyardError):
    message = "Invalid request."


class SchemaValidationError(Invalid):
    message = "Schema validation failed."


class InvalidParamInVersion(Invalid):
    message = "Invalid param {param} because current request version is {req_version}."


class InvalidValue(Invalid):
    message = "Invalid value."


class InvalidInput(InvalidValue):
    """Neutron's refusal of a well-formed request it cannot honour (its fault type)."""

    message = "Invalid input for operation: {error}"


class NotFound(DockyardError):
    message = "Resource could not be found."


class ContainerNotFound(NotFound):
    message = "Container {ident} could not be found."


class HostNotFound(NotFound):
    message = "Host {ident} could not be found."


class ZunServiceNotFound(NotFound):
    message = "Zun service {binary} on host {host} could not be found."


class SandboxNotFound(NotFound):
    message = "Sandbox {ident} could not be found."


class CapsuleNotFound(NotFound):
    message = "Capsule {ident} could not be found."


class ImageNotFound(NotFound):
    message = "Image {ref} could not be found."


class RegistryNotFound(NotFound):
    message = "Registry {ident} could not be found."


class PathNotFound(NotFound):
    message = "Path {path} could not be found in container {uuid}."


class VolumeNotFound(NotFound):
    message = "Volume {ident} could not be found."


class ResourceNotFound(NotFound):
    message = "The {name} resource {ident} could not be found."


# Tenant networks: the class names are Neutron's fault types (its `NeutronError.type`).


class NetworkNotFound(NotFound):
    message = "Network {ident} could not be found."


class SubnetNotFound(NotFound):
    message = "Subnet {ident} could not be found."


class SubnetPoolNotFound(NotFound):
    message = "Subnet pool {ident} could not be found."


class PortNotFound(NotFound):
    message = "Port {ident} could not be found."


class SecurityGroupNotFound(NotFound):
    message = "Security group {ident} does not exist"


class SecurityGroupRuleNotFound(NotFound):
    message = "Security group rule {ident} does not exist"


class Conflict(DockyardError):
    message = "Conflict."


class NetworkInUse(Conflict):
    message = (
        "Unable to complete operation on network {ident}. There are one or more ports still "
        "in use on the network."
    )


class SubnetInUse(Conflict):
    message = (
        "Unable to complete operation on subnet {ident}: one or more ports have an IP "
        "allocation from this subnet."
    )


class SecurityGroupInUse(Conflict):
    message = "Security Group {ident} in use."


class IpAddressGenerationFailure(Conflict):
    message = "No more IP addresses available on network {ident}."


class IpAddressAlreadyAllocated(Conflict):
    message = "IP address {ip} already allocated in subnet {subnet}"


class InvalidStateException(Conflict):
    message = "Cannot {action} container {uuid} in {status} state."


class ContainerAlreadyExists(Conflict):
    message = "A container with name {name} already exists in this project."


class ResourceExists(Conflict):
    message = "The resource already exists."


class VolumeInUse(Conflict):
    message = "Volume {ident} is in use by container(s) {containers}; delete them first."


class ProjectDefaultMissing(Conflict):
    message = "The project's {what} was deleted while this request ran; try again."


class DuplicateEntry(Conflict):
    message = "An object with the same unique key already exists."


class HostNameTaken(Conflict):
    message = (
        "Host name {hostname} is already registered by another agent. Start this agent with "
        "another name (--name or DOCKYARD_AGENT__NAME), or remove the old host first "
        "(openstack appcontainer service delete {hostname} zun-compute)."
    )


class NotAuthorized(DockyardError):
    message = "Not authorized."


class WrongHost(NotAuthorized):
    message = "This host credential belongs to another host."


class PolicyNotAuthorized(NotAuthorized):
    message = "Policy doesn't allow {action} to be performed."


class OverQuota(NotAuthorized):
    message = "Quota exceeded for resources: {resources}."


class Unauthenticated(DockyardError):
    message = "Authentication required."


class MicroversionUnsupported(DockyardError):
    message = "Requested microversion is unsupported."


class UnsupportedMediaType(DockyardError):
    message = "Unsupported Content-Type; use application/json."


class MethodNotAllowedInVersion(DockyardError):
    message = (
        "Version {version} was requested but the requested API is not supported for this version."
    )


# --- server-side failures ------------------------------------------------------------------


class HostUnavailable(DockyardError):
    message = "Host {host} of container {uuid} is not up."


class IdentityUnavailable(DockyardError):
    message = "The identity service cannot check credentials now; try again later."


class AgentFailure(DockyardError):
    message = "The agent on host {host} failed: {reason}"


class UpstreamFailure(DockyardError):
    """A service Dockyard asked on the caller's behalf failed; the text names it and says
    why (never a secret), so it is the error's title too: clients print the title."""


class RegistryUnreachable(UpstreamFailure):
    message = "Registry {registry} could not be reached: {reason}"


class RegistryRefused(UpstreamFailure):
    message = "Registry {registry} refused the search: {reason}"


class ExecTimeout(Conflict):
    message = "Command did not finish within {timeout} seconds."


# --- runtime boundary (raised by runtime adapters, caught by the agent) --------------------


class RuntimeNotFound(DockyardError):
    message = "No such engine object: {ident}."


class RuntimeConflict(DockyardError):
    message = "The engine refused the operation: {reason}"


class RuntimeFailure(DockyardError):
    message = "The container engine failed: {reason}"


# --- console streams ------------------------------------------------------------------------


class StreamTokenRefused(Unauthenticated):
    message = "The stream token is refused: {reason}"
