"""Typed httpx client of the Zun v1 containers API, used by the `dockyard` CLI."""

from __future__ import annotations

import base64
import builtins
import time
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import httpx

DEFAULT_TIMEOUT = 60.0
Container = dict[str, Any]


class ClientError(Exception):
    """Anything that kept a request from getting a successful answer; str() is one line."""


class ApiError(ClientError):
    """The server answered with an error (Zun's `{"errors": [...]}` body, or plain text)."""

    def __init__(self, status: int, code: str, title: str, detail: str = "") -> None:
        # Zun's 5xx title is only the reason phrase; the detail names the cause.
        said = f"{title}: {detail}" if status >= 500 and detail and detail != title else title
        super().__init__(f"{said} (HTTP {status})")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail or title

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """Parse Zun's error body; fall back to other JSON shapes, then to the text."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                first = errors[0]
                title = str(first.get("title") or first.get("detail") or _reason(status))
                detail = str(first.get("detail") or "")
                return cls(status, str(first.get("code") or ""), title, detail)
            for key in ("error_message", "detail", "error", "message"):
                if isinstance(body.get(key), str) and body[key]:
                    return cls(status, "", body[key])
        text = response.text.strip().splitlines()
        return cls(status, "", text[0][:200] if text else _reason(status))


class ServerUnreachable(ClientError):
    """No HTTP answer at all: connection refused, DNS failure, time-out."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"The server at {url} does not answer ({reason})")
        self.url = url
        self.reason = reason


class InvalidEndpoint(ClientError):
    """The base URL is not an http(s) URL with a host."""


class WaitTimeout(ClientError):
    """A container did not reach the awaited status in time."""


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP error {status}"


def endpoint(base_url: str) -> str:
    """The API endpoint ending in /v1, whether `base_url` already names it or not."""
    url = base_url.rstrip("/")
    url = url if url.endswith("/v1") else f"{url}/v1"
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise InvalidEndpoint(f"Invalid URL {base_url!r}: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidEndpoint(f"Invalid URL {base_url!r}: use http://HOST[:PORT]")
    return url


def _query(params: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as Zun reads them: booleans lower-case, None left out."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


class ContainersClient:
    """The containers resource of one Dockyard (or Zun) endpoint at one microversion."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        version: str = "1.40",
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = endpoint(base_url)
        headers = {"OpenStack-API-Version": f"container {version}", "Accept": "application/json"}
        if token:
            headers["X-Auth-Token"] = token
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> ContainersClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ServerUnreachable(self.url, "timed out") from None
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.url, _transport_reason(exc)) from None
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ApiError(response.status_code, "", "The server answered without JSON") from None

    def _action(self, ident: str, action: str, **params: Any) -> None:
        self._request("POST", f"/containers/{ident}/{action}", params=_query(params))

    def create(self, spec: Mapping[str, Any], run: bool = False) -> Container:
        """Create a container from a Zun create body; with `run`, start it too (202)."""
        params = {"run": "true"} if run else {}
        return cast(Container, self._json("POST", "/containers", json=dict(spec), params=params))

    def list(self, **filters: Any) -> list[Container]:
        """All containers matching the filters (name, status, all_projects, …), every page."""
        first = _query(filters)
        params = first
        found: list[Container] = []
        while True:
            body = self._json("GET", "/containers", params=params)
            found.extend(body.get("containers") or [])
            next_url = body.get("next")
            if not next_url:
                return found
            # Follow `next` by its query only (behind a proxy its host may be wrong), and keep
            # the filters: Zun's `next` carries only sort, limit and marker.
            params = first | dict(parse_qsl(urlsplit(next_url).query))

    def get(self, ident: str) -> Container:
        """One container by UUID or name."""
        return cast(Container, self._json("GET", f"/containers/{ident}"))

    def update(self, ident: str, **fields: Any) -> Container:
        """PATCH name, cpu, memory or auto_heal; fields given as None are left out."""
        body = {key: value for key, value in fields.items() if value is not None}
        return cast(Container, self._json("PATCH", f"/containers/{ident}", json=body))

    def rename(self, ident: str, name: str) -> Container:
        """Give a container a new name (PATCH name, as microversion 1.40 wants)."""
        return self.update(ident, name=name)

    def delete(self, ident: str, force: bool = False, stop: bool = False) -> None:
        """Delete a container; `stop` stops a running one first, `force` removes it anyway."""
        params = _query({"force": force or None, "stop": stop or None})
        self._request("DELETE", f"/containers/{ident}", params=params)

    def start(self, ident: str) -> None:
        """Ask for a created or stopped container to start (202)."""
        self._action(ident, "start")

    def stop(self, ident: str, timeout: int | None = None) -> None:
        """Ask for a running container to stop, killing it after `timeout` seconds (202)."""
        self._action(ident, "stop", timeout=timeout)

    def restart(self, ident: str, timeout: int | None = None) -> None:
        """Ask for a container to restart (Zun's reboot action, 202)."""
        self._action(ident, "reboot", timeout=timeout)

    def pause(self, ident: str) -> None:
        """Ask for a running container to pause (202)."""
        self._action(ident, "pause")

    def unpause(self, ident: str) -> None:
        """Ask for a paused container to resume (202)."""
        self._action(ident, "unpause")

    def kill(self, ident: str, signal: str | None = None) -> None:
        """Send a signal (name or number; the engine's default is SIGKILL) to a container."""
        self._action(ident, "kill", signal=signal)

    def logs(
        self,
        ident: str,
        stdout: bool = True,
        stderr: bool = True,
        tail: int | str | None = None,
        since: str | None = None,
        timestamps: bool = False,
    ) -> str:
        """The container's log text (`tail` lines, or all; `since` epoch or date-time)."""
        params = _query(
            {"stdout": stdout, "stderr": stderr, "timestamps": timestamps, "tail": tail}
            | {"since": since}
        )
        text = self._json("GET", f"/containers/{ident}/logs", params=params)
        return text if isinstance(text, str) else str(text)

    def execute(self, ident: str, command: str) -> dict[str, Any]:
        """Run a shell-quoted command in a running container; returns output and exit_code."""
        params = {"command": command, "run": "true"}
        return cast(
            dict[str, Any], self._json("POST", f"/containers/{ident}/execute", params=params)
        )

    def top(self, ident: str, ps_args: str | None = None) -> dict[str, Any]:
        """The container's processes: `{"Titles": [...], "Processes": [[...], ...]}`."""
        params = {"ps_args": ps_args} if ps_args else None
        return cast(dict[str, Any], self._json("GET", f"/containers/{ident}/top", params=params))

    def get_archive(self, ident: str, path: str) -> tuple[bytes, dict[str, Any]]:
        """A tar of path in the container, and path's stat (microversion 1.25+: base64)."""
        body = self._json("GET", f"/containers/{ident}/get_archive", params={"path": path})
        return base64.b64decode(body["data"]), dict(body["stat"])

    def put_archive(self, ident: str, path: str, data: bytes) -> None:
        """Extract the tar data into the directory path of the container."""
        body = {"data": base64.b64encode(data).decode("ascii")}
        self._request("POST", f"/containers/{ident}/put_archive", params={"path": path}, json=body)

    def commit(self, ident: str, repository: str, tag: str | None = None) -> dict[str, Any]:
        """Make an image of the container; `{"uuid": <its /v1/images record>}`."""
        params = _query({"repository": repository, "tag": tag})
        return cast(
            dict[str, Any], self._json("POST", f"/containers/{ident}/commit", params=params)
        )

    def rebuild(self, ident: str, image: str | None = None) -> None:
        """Remake the container (from image, if given) under the same uuid and name."""
        self._action(ident, "rebuild", image=image)

    # --- consoles (the websocket itself: client/console.py) --------------------------------

    def execute_interactive(self, ident: str, command: str, tty: bool = True) -> dict[str, Any]:
        """An exec to type into (on a TTY, or without one for a piped stdin): its exec_id
        and the console URL (proxy_url) to open once."""
        params = {"command": command, "run": "false", "interactive": "true"}
        if not tty:
            params["tty"] = "false"
        return cast(
            dict[str, Any], self._json("POST", f"/containers/{ident}/execute", params=params)
        )

    def execute_resize(self, ident: str, exec_id: str, height: int, width: int) -> None:
        self._action(ident, "execute_resize", exec_id=exec_id, h=height, w=width)

    def attach(self, ident: str) -> str:
        """The console URL of an interactive container (to open once, within seconds)."""
        return str(self._json("GET", f"/containers/{ident}/attach"))

    def resize(self, ident: str, height: int, width: int) -> None:
        self._action(ident, "resize", h=height, w=width)

    def follow_logs(self, ident: str, tail: int | str | None = None) -> Iterator[bytes]:
        """The container's output as it is written, until it stops (logs?follow=true)."""
        params = _query({"follow": True, "tail": tail})
        path = f"/containers/{ident}/logs"
        try:
            with self._http.stream("GET", path, params=params, timeout=None) as response:
                if response.is_error:
                    response.read()
                    raise ApiError.from_response(response)
                yield from response.iter_bytes()
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.url, _transport_reason(exc)) from None

    def wait_for_status(
        self, ident: str, statuses: Iterable[str], timeout: float = 60.0, interval: float = 0.5
    ) -> Container:
        """Wait until the container's status is one of `statuses` with no task running.

        Uses Dockyard's watch (GET ?wait_status), so the server answers as the status
        arrives; `interval` only paces the rounds while a task is still running.
        """
        wanted = set(statuses)
        deadline = time.monotonic() + timeout
        watch = ",".join(sorted(wanted | {"Error"}))
        while True:
            left = max(0, min(30, int(deadline - time.monotonic())))
            params = {"wait_status": watch, "wait_timeout": left}
            container = cast(Container, self._json("GET", f"/containers/{ident}", params=params))
            status, busy = container.get("status"), container.get("task_state")
            if status in wanted and not busy:
                return container
            if status == "Error" and not busy:
                reason = container.get("status_reason") or "no reason given"
                raise ClientError(f"Container {ident} is in Error state: {reason}")
            if time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"Container {ident} is still {container.get('status')} after {timeout:g} s"
                    f" (waited for {' or '.join(sorted(wanted))})"
                )
            if status in wanted or status == "Error":
                time.sleep(interval)  # the status is there, a task is still finishing

    # --- images and hosts (administrators, by Zun's default policy) --------------------

    def pull_image(self, repo: str, host: str) -> dict[str, Any]:
        """Ask for repo[:tag] to be pulled onto host (202: the image record, Pulling)."""
        return cast(
            dict[str, Any], self._json("POST", "/images", json={"repo": repo, "host": host})
        )

    def get_image(self, uuid: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._json("GET", f"/images/{uuid}"))

    def list_images(self) -> builtins.list[dict[str, Any]]:
        return cast(builtins.list[dict[str, Any]], self._json("GET", "/images")["images"])

    def delete_image(self, uuid: str) -> None:
        self._request("DELETE", f"/images/{uuid}")

    def search_images(self, term: str, exact: bool = False) -> builtins.list[dict[str, Any]]:
        """Images matching term on the hosts and in the project's registries (any caller)."""
        path = f"/images/{term}/search?exact_match={'true' if exact else 'false'}"
        return cast(builtins.list[dict[str, Any]], self._json("GET", path))

    def list_hosts(self) -> builtins.list[dict[str, Any]]:
        return cast(builtins.list[dict[str, Any]], self._json("GET", "/hosts")["hosts"])

    # --- named volumes (Dockyard's /v1/volumes) ------------------------------------------

    def create_volume(self, name: str, size: int | None = None) -> dict[str, Any]:
        body = {"volume": {"name": name, **({"size": size} if size else {})}}
        return cast(dict[str, Any], self._json("POST", "/volumes", json=body)["volume"])

    def get_volume(self, ident: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._json("GET", f"/volumes/{ident}")["volume"])

    def list_volumes(self) -> builtins.list[dict[str, Any]]:
        return cast(builtins.list[dict[str, Any]], self._json("GET", "/volumes")["volumes"])

    def delete_volume(self, ident: str) -> None:
        self._request("DELETE", f"/volumes/{ident}")


def _transport_reason(exc: httpx.TransportError) -> str:
    """A short reason, judged by the type of the underlying OS error."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__
