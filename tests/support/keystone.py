"""A real Keystone for tests: installed once into a cache dir, served by gunicorn on loopback.

Keystone pins ≈30 OpenStack and web packages that clash with ours, so it lives in its own
virtual environment outside the repository (`$DOCKYARD_TEST_CACHE`, default
/var/cache/dockyard-test), made with uv and reused by every later run. The slow one-time
steps (`keystone-manage db_sync`, key set-up, bootstrap: ≈3 s each) run once into a template
that each session copies; a session then only starts gunicorn (≈3 s) and seeds users over REST.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port
from tests.support.wait import dies_with_test, stop_process, wait_process_ready

KEYSTONE_VERSION = "30.0.0"
REQUIREMENTS = (f"keystone=={KEYSTONE_VERSION}", "gunicorn==27.0.1")
ADMIN_PASSWORD = "keystone-admin-test-password"  # a throwaway Keystone on loopback
REGION = "RegionOne"
DOMAIN = "Default"
# Bumped when the template's content or keystone.conf changes, so old caches are rebuilt.
TEMPLATE_FORMAT = "1"
# The placeholder the template's bootstrap gives the identity endpoints; fixed at start.
TEMPLATE_URL = "http://127.0.0.1:1/v3/"

# Keystone parses sys.argv when it is imported; under gunicorn that is gunicorn's own flags,
# which makes every worker exit and respawn forever. The WSGI module resets it first.
WSGI_MODULE = """\
import sys

sys.argv = [sys.argv[0]]
from keystone.wsgi.api import application  # noqa: E402
"""


def cache_root() -> Path:
    """$DOCKYARD_TEST_CACHE, else /var/cache/dockyard-test, else ~/.cache/dockyard-test."""
    configured = os.environ.get("DOCKYARD_TEST_CACHE")
    for candidate in ([Path(configured)] if configured else []) + [
        Path("/var/cache/dockyard-test"),
        Path.home() / ".cache" / "dockyard-test",
    ]:
        with contextlib.suppress(OSError):
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
    raise RuntimeError("no writable cache directory for the test Keystone")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock, so that two test runs never build the same cache at once."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(command: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> None:
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        raise RuntimeError("uv is missing: install the test extra (pip install -e '.[test]')")
    return found


def ensure_installed(home: Path) -> Path:
    """The Keystone virtual environment under home, made with uv if it is not there yet."""
    venv = home / "venv"
    stamp = venv / ".dockyard-requirements"
    wanted = "\n".join(REQUIREMENTS)
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    shutil.rmtree(venv, ignore_errors=True)  # a half-made one from an interrupted run
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)])
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    # Bytecode now, once: without it every keystone-manage call and start is 2x slower.
    _run([_uv(), "pip", "install", "--quiet", "--compile-bytecode", *REQUIREMENTS], env=env)
    stamp.write_text(wanted)
    return venv


def write_config(workdir: Path) -> Path:
    """keystone.conf for tests: SQLite, fernet, cheap password hashes, in-memory cache."""
    conf = workdir / "keystone.conf"
    conf.write_text(
        f"""\
[DEFAULT]
debug = false
[database]
connection = sqlite:///{workdir / "keystone.db"}
[token]
provider = fernet
[fernet_tokens]
key_repository = {workdir / "fernet-keys"}
[fernet_receipts]
key_repository = {workdir / "fernet-keys"}
[credential]
key_repository = {workdir / "credential-keys"}
[identity]
password_hash_rounds = 4
[cache]
enabled = true
backend = dogpile.cache.memory
[resource]
admin_project_name = admin
admin_project_domain_name = {DOMAIN}
"""
    )
    return conf


def ensure_template(home: Path, venv: Path) -> Path:
    """A bootstrapped Keystone state (database and keys) that each session copies."""
    template = home / "template"
    stamp = template / ".dockyard-template"
    if stamp.exists() and stamp.read_text() == TEMPLATE_FORMAT:
        return template
    shutil.rmtree(template, ignore_errors=True)
    template.mkdir(parents=True)
    conf = write_config(template)
    manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(conf)]
    owner = [
        "--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
        "--keystone-group", grp.getgrgid(os.getgid()).gr_name,
    ]  # fmt: skip
    _run([*manage, "db_sync"])
    _run([*manage, "fernet_setup", *owner])
    _run([*manage, "credential_setup", *owner])
    _run(
        [
            *manage, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
            "--bootstrap-region-id", REGION, "--bootstrap-admin-url", TEMPLATE_URL,
            "--bootstrap-internal-url", TEMPLATE_URL, "--bootstrap-public-url", TEMPLATE_URL,
        ]
    )  # fmt: skip
    stamp.write_text(TEMPLATE_FORMAT)
    return template


def prepare(home: Path | None = None) -> tuple[Path, Path]:
    """(venv, template), building whatever the cache does not hold yet."""
    home = home or cache_root() / f"keystone-{KEYSTONE_VERSION}"
    home.mkdir(parents=True, exist_ok=True)
    with _locked(home / ".lock"):
        venv = ensure_installed(home)
        return venv, ensure_template(home, venv)


@dataclass(frozen=True)
class User:
    """A Keystone user with a role on one project, and how to log in as it."""

    name: str
    password: str
    project: str
    user_id: str = ""
    project_id: str = ""

    def openrc(self, auth_url: str) -> dict[str, str]:
        """The OS_* variables the OpenStack clients log in with."""
        return {
            "OS_AUTH_URL": auth_url,
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": self.name,
            "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": self.project,
            "OS_USER_DOMAIN_NAME": DOMAIN,
            "OS_PROJECT_DOMAIN_NAME": DOMAIN,
            "OS_REGION_NAME": REGION,
        }


class Keystone:
    """One Keystone under gunicorn, on a free loopback port, with its own copy of the state."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.process: subprocess.Popen[bytes] | None = None
        self.admin = User("admin", ADMIN_PASSWORD, "admin")

    def start(self, timeout: float = 60.0) -> Keystone:
        venv, template = prepare()
        shutil.copytree(template, self.workdir, dirs_exist_ok=True)
        write_config(self.workdir)
        (self.workdir / "keystone_wsgi.py").write_text(WSGI_MODULE)
        command = [
            str(venv / "bin" / "gunicorn"), "--chdir", str(self.workdir),
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "8",
            "--worker-class", "gthread", "--no-control-socket", "--preload",
            "--timeout", "120", "keystone_wsgi:application",
        ]  # fmt: skip
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "OS_KEYSTONE_CONFIG_DIR": str(self.workdir),
        }
        log = (self.workdir / "keystone.log").open("ab")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=dies_with_test()
        )
        self._wait_ready(timeout)
        self.admin = self._resolve(self.admin)
        self._fix_identity_endpoints()
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        wait_process_ready(
            self.process,
            lambda: httpx.get(self.url, timeout=2).status_code == 200,
            "keystone",
            self.log,
            timeout,
        )

    def log(self) -> str:
        path = self.workdir / "keystone.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)

    # --- REST ------------------------------------------------------------------------------

    def token(self, user: User) -> str:
        """A new project-scoped token for user (a password login)."""
        return self.login(user)[0]

    def login(self, user: User) -> tuple[str, dict[str, Any]]:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": user.name,
                            "domain": {"name": DOMAIN},
                            "password": user.password,
                        }
                    },
                },
                "scope": {"project": {"name": user.project, "domain": {"name": DOMAIN}}},
            }
        }
        response = httpx.post(f"{self.url}/auth/tokens?nocatalog", json=body, timeout=30)
        response.raise_for_status()
        return response.headers["X-Subject-Token"], response.json()["token"]

    def revoke(self, token: str) -> None:
        headers = {"X-Auth-Token": self.token(self.admin), "X-Subject-Token": token}
        httpx.delete(f"{self.url}/auth/tokens", headers=headers, timeout=30).raise_for_status()

    def _resolve(self, user: User) -> User:
        _, token = self.login(user)
        return User(
            user.name, user.password, user.project, token["user"]["id"], token["project"]["id"]
        )

    def admin_client(self) -> httpx.Client:
        headers = {"X-Auth-Token": self.token(self.admin)}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def _fix_identity_endpoints(self) -> None:
        with self.admin_client() as api:
            for endpoint in api.get("/endpoints").raise_for_status().json()["endpoints"]:
                if endpoint["url"] == TEMPLATE_URL:
                    body = {"endpoint": {"url": f"{self.url}/"}}
                    api.patch(f"/endpoints/{endpoint['id']}", json=body).raise_for_status()


@dataclass(frozen=True)
class Realm:
    """What seed() made: two projects with a member each, the admin, Dockyard's service user."""

    keystone: Keystone
    alpha: User
    beta: User
    admin: User
    service: User


def seed(keystone: Keystone, container_endpoint: str, prefix: str = "dy") -> Realm:
    """Projects, users and roles over REST; the `container` and `network` services in the
    catalog."""
    with keystone.admin_client() as api:
        roles = {r["name"]: r["id"] for r in _get(api, "/roles")["roles"]}
        alpha = _user_with_role(api, roles["member"], f"{prefix}-alpha-member", f"{prefix}-alpha")
        beta = _user_with_role(api, roles["member"], f"{prefix}-beta-member", f"{prefix}-beta")
        service = _user_with_role(api, roles["service"], f"{prefix}-dockyard", "service")
        _register_service(api, "zun", "container", container_endpoint)
        # Neutron's subset at /network on the same port (service type `network`).
        root = container_endpoint.removesuffix("/v1")
        _register_service(api, "dockyard-network", "network", f"{root}/network")
    return Realm(keystone, alpha, beta, keystone.admin, service)


def _get(api: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    result: dict[str, Any] = api.get(path, params=params).raise_for_status().json()
    return result


def _ensure(api: httpx.Client, collection: str, body: dict[str, Any]) -> str:
    """The id of the object named body['name'], created if it does not exist yet."""
    found = _get(api, f"/{collection}", name=body["name"])[collection]
    if found:
        return str(found[0]["id"])
    created = api.post(f"/{collection}", json={collection[:-1]: body}).raise_for_status()
    return str(created.json()[collection[:-1]]["id"])


def _user_with_role(api: httpx.Client, role_id: str, name: str, project: str) -> User:
    password = f"{name}-password"
    project_id = _ensure(api, "projects", {"name": project, "domain_id": "default"})
    user = {"name": name, "password": password, "domain_id": "default"}
    user_id = _ensure(api, "users", {**user, "default_project_id": project_id})
    api.put(f"/projects/{project_id}/users/{user_id}/roles/{role_id}").raise_for_status()
    return User(name, password, project, user_id, project_id)


def _register_service(api: httpx.Client, name: str, kind: str, url: str) -> None:
    service_id = _ensure(api, "services", {"name": name, "type": kind, "enabled": True})
    existing = _get(api, "/endpoints", service_id=service_id)["endpoints"]
    for endpoint in existing:
        api.delete(f"/endpoints/{endpoint['id']}").raise_for_status()
    for interface in ("public", "internal", "admin"):
        body = {"service_id": service_id, "interface": interface, "url": url, "region_id": REGION}
        api.post("/endpoints", json={"endpoint": body}).raise_for_status()
