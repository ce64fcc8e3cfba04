"""Neutron's v2.0 views of Dockyard's network rows (the fields its clients read)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dockyard.db.networks_tables import (
    NetworkRow,
    PortRow,
    SecurityGroupRow,
    SecurityGroupRuleRow,
    SubnetPoolRow,
    SubnetRow,
)


def stamp(value: datetime | None) -> str | None:
    """Neutron's timestamps: UTC, seconds, a trailing Z."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _common(row: Any) -> dict[str, Any]:
    return {
        "id": row.uuid, "tenant_id": row.project_id, "project_id": row.project_id,
        "created_at": stamp(row.created_at), "updated_at": stamp(row.updated_at),
        "revision_number": getattr(row, "revision_number", 0), "tags": [],
    }  # fmt: skip


def network_view(row: NetworkRow, subnets: Sequence[str], *, admin: bool) -> dict[str, Any]:
    view = {
        **_common(row), "name": row.name, "description": row.description,
        "admin_state_up": row.admin_state_up, "status": "ACTIVE", "subnets": list(subnets),
        "shared": row.shared, "mtu": row.mtu, "router:external": row.external,
        "port_security_enabled": True, "availability_zone_hints": [],
        "availability_zones": ["nova"], "ipv4_address_scope": None, "ipv6_address_scope": None,
        "is_default": row.is_default, "l2_adjacency": True, "dns_domain": "",
    }  # fmt: skip
    if admin:  # Neutron shows the segmentation to administrators only
        view.update({"provider:network_type": "vxlan", "provider:segmentation_id": row.vni,
                     "provider:physical_network": None})  # fmt: skip
    return view


def subnet_view(row: SubnetRow) -> dict[str, Any]:
    return {
        **_common(row), "name": row.name, "description": row.description,
        "network_id": row.network_uuid, "ip_version": row.ip_version, "cidr": row.cidr,
        "gateway_ip": row.gateway_ip, "allocation_pools": list(row.allocation_pools),
        "enable_dhcp": row.enable_dhcp, "dns_nameservers": list(row.dns_nameservers),
        "host_routes": [], "subnetpool_id": row.subnetpool_uuid, "ipv6_address_mode": None,
        "ipv6_ra_mode": None, "service_types": [], "segment_id": None,
    }  # fmt: skip


def subnetpool_view(row: SubnetPoolRow) -> dict[str, Any]:
    return {
        **_common(row), "name": row.name, "description": row.description,
        "prefixes": list(row.prefixes), "default_prefixlen": row.default_prefixlen,
        "min_prefixlen": row.min_prefixlen, "max_prefixlen": row.max_prefixlen,
        "ip_version": row.ip_version, "shared": row.shared, "is_default": row.is_default,
        "default_quota": None, "address_scope_id": None,
    }  # fmt: skip


def port_view(row: PortRow) -> dict[str, Any]:
    return {
        **_common(row), "name": row.name, "description": "", "network_id": row.network_uuid,
        "mac_address": row.mac_address, "admin_state_up": True, "status": "ACTIVE",
        "device_id": row.container_uuid or row.capsule_uuid or "",
        "device_owner": row.device_owner,
        "fixed_ips": [{"subnet_id": row.subnet_uuid, "ip_address": row.ip_address}],
        "security_groups": list(row.security_groups), "allowed_address_pairs": [],
        "port_security_enabled": True, "extra_dhcp_opts": [], "binding:vnic_type": "normal",
    }  # fmt: skip


def rule_view(row: SecurityGroupRuleRow) -> dict[str, Any]:
    return {
        "id": row.uuid, "tenant_id": row.project_id, "project_id": row.project_id,
        "security_group_id": row.security_group_uuid, "direction": row.direction,
        "ethertype": row.ethertype, "protocol": row.protocol,
        "port_range_min": row.port_range_min, "port_range_max": row.port_range_max,
        "remote_ip_prefix": row.remote_ip_prefix, "remote_group_id": row.remote_group_uuid,
        "remote_address_group_id": None, "description": row.description,
        "normalized_cidr": row.remote_ip_prefix, "belongs_to_default_sg": None,
        "created_at": stamp(row.created_at), "updated_at": stamp(row.created_at),
        "revision_number": 0, "tags": [],
    }  # fmt: skip


def security_group_view(
    row: SecurityGroupRow, rules: Sequence[SecurityGroupRuleRow]
) -> dict[str, Any]:
    return {
        **_common(row), "name": row.name, "description": row.description,
        "stateful": row.stateful, "shared": False,
        "security_group_rules": [rule_view(r) for r in rules],
    }  # fmt: skip
