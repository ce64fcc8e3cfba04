"""Wire models of /v1/registries (Zun 1.30): a private registry and its credentials."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

# host[:port] as image references name a registry (no scheme, no path).
Domain = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$",
    ),
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class RegistryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Domain
    name: Text | None = None
    username: Text | None = None
    # SecretStr: a validation error or a repr never prints it.
    password: SecretStr | None = Field(None, max_length=255)


class RegistryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: Domain | None = None
    name: Text | None = None
    username: Text | None = None
    password: SecretStr | None = Field(None, max_length=255)
