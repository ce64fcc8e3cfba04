"""Helpers shared by tests that need real parts (a Docker engine, a test image)."""
