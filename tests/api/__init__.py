"""Zun v1 API tests over HTTP against a real `dockyard serve`."""
