"""Wire models of the Neutron v2.0 subset and Zun's /v1/networks (request bodies).

Unknown attributes are refused as Neutron refuses them; a few that clients send with their
defaults (availability zones, port security, tags) are accepted and have no effect here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_Text = Field(None, max_length=255)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NetworkCreate(_Strict):
    name: str = Field("", max_length=255)
    description: str = Field("", max_length=255)
    admin_state_up: bool = True
    shared: bool = False
    external: bool = Field(False, alias="router:external")
    mtu: int | None = Field(None, ge=68, le=1450)
    project_id: str | None = None
    tenant_id: str | None = None
    port_security_enabled: bool = True
    availability_zone_hints: list[str] = Field(default_factory=list)
    is_default: bool = False
    dns_domain: str | None = None


class NetworkUpdate(_Strict):
    name: str | None = _Text
    description: str | None = _Text
    admin_state_up: bool | None = None
    shared: bool | None = None
    mtu: int | None = Field(None, ge=68, le=1450)
    port_security_enabled: bool | None = None


class AllocationPool(_Strict):
    start: str
    end: str


class SubnetCreate(_Strict):
    network_id: str
    name: str = Field("", max_length=255)
    description: str = Field("", max_length=255)
    ip_version: Literal[4, 6] = 4
    cidr: str | None = None
    prefixlen: int | None = Field(None, ge=1, le=30)
    subnetpool_id: str | None = None
    use_default_subnetpool: bool = False
    # Missing: the subnet's first address; null: no gateway (an internal network, no egress).
    gateway_ip: str | None = "auto"
    allocation_pools: list[AllocationPool] | None = None
    enable_dhcp: bool = True
    dns_nameservers: list[str] = Field(default_factory=list)
    host_routes: list[dict[str, Any]] = Field(default_factory=list)
    project_id: str | None = None
    tenant_id: str | None = None
    service_types: list[str] = Field(default_factory=list)

    @field_validator("host_routes")
    @classmethod
    def _no_routes(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if value:
            raise ValueError("host routes are not supported by this deployment")
        return value


class SubnetUpdate(_Strict):
    name: str | None = _Text
    description: str | None = _Text
    enable_dhcp: bool | None = None
    dns_nameservers: list[str] | None = None


class SubnetPoolCreate(_Strict):
    name: str = Field("", max_length=255)
    description: str = Field("", max_length=255)
    prefixes: list[str] = Field(min_length=1)
    default_prefixlen: int | None = Field(None, ge=1, le=30)
    min_prefixlen: int | None = Field(None, ge=1, le=30)
    max_prefixlen: int | None = Field(None, ge=1, le=30)
    shared: bool = False
    is_default: bool = False
    project_id: str | None = None
    tenant_id: str | None = None
    address_scope_id: None = None
    default_quota: None = None


class SubnetPoolUpdate(_Strict):
    name: str | None = _Text
    description: str | None = _Text
    prefixes: list[str] | None = None
    default_prefixlen: int | None = Field(None, ge=1, le=30)


class SecurityGroupCreate(_Strict):
    name: str = Field("", max_length=255)
    description: str = Field("", max_length=255)
    stateful: bool = True
    project_id: str | None = None
    tenant_id: str | None = None


class SecurityGroupUpdate(_Strict):
    name: str | None = _Text
    description: str | None = _Text


class SecurityGroupRuleCreate(_Strict):
    security_group_id: str
    direction: Literal["ingress", "egress"]
    ethertype: Literal["IPv4", "IPv6"] = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = Field(None, ge=0, le=65535)
    port_range_max: int | None = Field(None, ge=0, le=65535)
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    remote_address_group_id: None = None
    description: str = Field("", max_length=255)
    project_id: str | None = None
    tenant_id: str | None = None


class ContainerNetworkCreate(_Strict):
    """Zun's POST /v1/networks body."""

    name: str = Field(min_length=1, max_length=255)
    neutron_net_id: str | None = Field(None, max_length=36)
