"""The one place docker SDK errors become Dockyard's runtime errors, by type."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors

from dockyard import errors


@contextmanager
def translated(ident: str) -> Iterator[None]:
    """Turn docker SDK errors raised in the block into Dockyard's runtime errors."""
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise errors.ImageNotFound(ref=ident) from exc
    except docker.errors.NotFound as exc:
        raise errors.RuntimeNotFound(ident=ident) from exc
    except docker.errors.APIError as exc:
        reason = str(exc.explanation or exc)
        if exc.status_code == 409:
            raise errors.RuntimeConflict(reason=reason) from exc
        raise errors.RuntimeFailure(reason=reason) from exc
    # requests' errors (connection refused, timeouts) are OSErrors; the SDK's own are
    # DockerExceptions (e.g. the engine's API version could not be read).
    except (docker.errors.DockerException, OSError) as exc:
        raise errors.RuntimeFailure(reason=str(exc)) from exc
