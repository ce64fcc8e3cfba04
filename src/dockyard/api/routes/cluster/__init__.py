"""The clustering API (Senlin v1) under /cluster: its own application, versions and errors."""
