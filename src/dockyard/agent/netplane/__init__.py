"""Tenant networks on a host: the kernel data plane behind a small backend interface."""
