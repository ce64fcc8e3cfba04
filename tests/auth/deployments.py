"""Dockyard deployments with authentication for tests: `--auth tokens` and `--auth keystone`.

Each has three callers: a member of project alpha, a member of project beta, and an admin.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.support.keystone import Keystone, Realm, User, seed
from tests.support.server import DockyardProcess, free_port

# Logged at debug level, so that tests can show that no secret reaches the log.
VERBOSE = {"DOCKYARD_LOG_LEVEL": "debug"}


@dataclass(frozen=True)
class Caller:
    name: str
    token: str
    project_id: str
    user_id: str

    def headers(self, version: str = "1.40") -> dict[str, str]:
        return {"X-Auth-Token": self.token, "OpenStack-API-Version": f"container {version}"}


@dataclass
class Deployment:
    backend: str
    server: DockyardProcess
    alpha: Caller
    beta: Caller
    admin: Caller
    secrets: tuple[str, ...]  # what must never appear in a log or a response

    @contextmanager
    def client(self, caller: Caller | None, version: str = "1.40") -> Iterator[httpx.Client]:
        """An httpx client that sends caller's token (no token for None)."""
        headers = (
            caller.headers(version) if caller else {"OpenStack-API-Version": f"container {version}"}
        )
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=60) as client:
            yield client


def write_tokens_file(path: Path) -> dict[str, Caller]:
    """A tokens file with a member of alpha, a member of beta and an admin; their callers."""
    callers = {
        "alpha": Caller("alpha", secrets.token_urlsafe(24), "alpha", "alice"),
        "beta": Caller("beta", secrets.token_urlsafe(24), "beta", "bob"),
        "admin": Caller("admin", secrets.token_urlsafe(24), "ops", "root"),
    }
    roles = {"alpha": ["member", "reader"], "beta": ["member"], "admin": ["admin", "member"]}
    entries = [
        {"token": c.token, "project_id": c.project_id, "user_id": c.user_id, "roles": roles[k]}
        for k, c in callers.items()
    ]
    path.write_text(yaml.safe_dump(entries))
    path.chmod(0o600)
    return callers


def start_tokens_deployment(workdir: Path, policy_file: Path | None = None) -> Deployment:
    """`dockyard serve --auth tokens` with a fresh tokens file (and a policy file if given)."""
    workdir.mkdir(parents=True, exist_ok=True)
    callers = write_tokens_file(workdir / "tokens.yaml")
    env = {**VERBOSE, "DOCKYARD_AUTH__TOKENS_FILE": str(workdir / "tokens.yaml")}
    if policy_file:
        env["DOCKYARD_AUTH__POLICY_FILE"] = str(policy_file)
    server = DockyardProcess(
        workdir / "data", None, args=["--auth", "tokens"], token=callers["admin"].token, **env
    )
    server.start(timeout=90)  # a loaded machine starts slowly
    tokens = tuple(c.token for c in callers.values())
    return Deployment("tokens", server, callers["alpha"], callers["beta"], callers["admin"], tokens)


@contextmanager
def running(deployment: Deployment) -> Iterator[Deployment]:
    """The deployment for the block; then its server stops and the engine objects it made go
    (a module or session fixture's whole life)."""
    try:
        yield deployment
    finally:
        deployment.server.stop()
        deployment.server.remove_engine_objects()


def keystone_caller(keystone: Keystone, name: str, user: User) -> Caller:
    """A caller with a new Keystone token of user."""
    return Caller(name, keystone.token(user), user.project_id, user.user_id)


def start_keystone_deployment(workdir: Path, keystone: Keystone) -> tuple[Deployment, Realm]:
    """`dockyard serve --auth keystone` on a port the Keystone catalog already points to."""
    port = free_port()
    realm = seed(keystone, f"http://127.0.0.1:{port}/v1")
    env = {
        **VERBOSE,
        "DOCKYARD_AUTH__KEYSTONE_URL": keystone.url,
        "DOCKYARD_AUTH__SERVICE_USERNAME": realm.service.name,
        "DOCKYARD_AUTH__SERVICE_PASSWORD": realm.service.password,
        "DOCKYARD_AUTH__SERVICE_PROJECT": realm.service.project,
    }
    admin = keystone_caller(keystone, "admin", realm.admin)
    server = DockyardProcess(
        workdir / "data", port=port, args=["--auth", "keystone"], token=admin.token, **env
    )
    server.start(timeout=90)  # a loaded machine starts slowly
    alpha = keystone_caller(keystone, "alpha", realm.alpha)
    beta = keystone_caller(keystone, "beta", realm.beta)
    kept = (alpha.token, beta.token, admin.token, realm.service.password)
    return Deployment("keystone", server, alpha, beta, admin, kept), realm
