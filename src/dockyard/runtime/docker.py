"""DockerRuntime: the ContainerRuntime port on a Docker engine, through the docker SDK."""

from __future__ import annotations

import shutil
import socket
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import docker.utils
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_fixed

from dockyard import errors
from dockyard.runtime.base import EngineContainer, ExecResult, HostInfo, Top
from dockyard.runtime.docker_errors import translated
from dockyard.runtime.docker_events import DockerEvents
from dockyard.runtime.docker_files import DockerFiles
from dockyard.runtime.docker_inspect import (
    JSON,
    from_inspect,
    from_list_row,
    is_sandbox,
    joined_sandbox_id,
    parse_engine_time,
)
from dockyard.runtime.docker_sandbox import DockerSandboxes
from dockyard.runtime.docker_spec import CPU_PERIOD, MIB, create_args
from dockyard.runtime.hold import HeldParts, hold_source, own_parts
from dockyard.runtime.injected import files_tar
from dockyard.runtime.labels import LABEL_CONTAINER, LABEL_HOST
from dockyard.runtime.specs import RunSpec, signal_number

__all__ = ["DockerRuntime", "parse_engine_time"]

GIB = 1024 * MIB
DEFAULT_TIMEOUT = 120.0  # s; generous because pulls and stops of slow containers are slow


class DockerRuntime(DockerFiles, DockerSandboxes, DockerEvents):
    """A Docker engine, driven through the SDK's low-level APIClient (one call per step)."""

    def __init__(self, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(base_url)
        self._timeout = timeout
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def _api(self) -> Any:
        # Connecting lazily lets an agent start before its engine answers.
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    kwargs = docker.utils.kwargs_from_env()
                    if self._base_url is not None:
                        kwargs["base_url"] = self._base_url
                    with translated(self._base_url or "docker"):
                        self._client = docker.APIClient(timeout=int(self._timeout), **kwargs)
                client = self._client
        return client

    def close(self) -> None:
        """Close the connection pool (the runtime reconnects on next use)."""
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def host_info(self) -> HostInfo:
        """Capacity and identity of this host, from `docker info`."""
        with translated("info"):
            info: JSON = self._api.info()
        return HostInfo(
            hostname=socket.gethostname(),
            cpus=int(info.get("NCPU", 0)),
            mem_total_mib=int(info.get("MemTotal", 0)) // MIB,
            disk_total_gib=_disk_total_gib(str(info.get("DockerRootDir", ""))),
            architecture=str(info.get("Architecture", "")),
            os_type=str(info.get("OSType", "")),
            os=str(info.get("OperatingSystem", "")),
            kernel_version=str(info.get("KernelVersion", "")),
            runtimes=sorted(info.get("Runtimes") or {}),
            engine_version=str(info.get("ServerVersion", "")),
        )

    def list_containers(self, host: str) -> list[EngineContainer]:
        """This host's containers but not its sandboxes, from one list call (for resync)."""
        with translated(host):
            rows: list[JSON] = self._api.containers(
                all=True, filters={"label": [f"{LABEL_HOST}={host}"]}
            )
        # The sandboxes come along: they lend joined containers their addresses.
        sandboxes = {str(row["Id"]): row for row in rows if is_sandbox(row.get("Labels"))}
        return [from_list_row(row, sandboxes) for row in rows if str(row["Id"]) not in sandboxes]

    def find_container(self, uuid: str) -> EngineContainer | None:
        """The container labelled io.dockyard.container=uuid, fully inspected, or None."""
        with translated(uuid):
            rows: list[JSON] = self._api.containers(
                all=True, filters={"label": [f"{LABEL_CONTAINER}={uuid}"]}
            )
        for row in rows:
            try:
                return self.inspect(str(row["Id"]))
            except errors.RuntimeNotFound:
                continue  # removed between the list and the inspect
        return None

    def inspect(self, engine_id: str) -> EngineContainer:
        """The engine's view of one container (and of its sandbox's, for its addresses)."""
        with translated(engine_id):
            data: JSON = self._api.inspect_container(engine_id)
        sandbox_id = joined_sandbox_id(data.get("HostConfig"))
        sandbox: JSON | None = None
        if sandbox_id is not None:
            try:
                with translated(sandbox_id):
                    sandbox = self._api.inspect_container(sandbox_id)
            except errors.RuntimeNotFound:
                pass  # a removed sandbox strands the container: it has no address
        return from_inspect(data, sandbox)

    def create(self, spec: RunSpec) -> str:
        """Create the container from spec (without starting it); return its engine id."""
        held = self._held_parts(spec) if spec.hold else None
        args = create_args(self._api, spec, held)  # InvalidValue before the engine is asked
        with translated(spec.image):
            created: JSON = self._api.create_container(spec.image, **args)
        engine_id = str(created["Id"])
        if spec.files:
            self._inject(engine_id, spec)
        return engine_id

    def _held_parts(self, spec: RunSpec) -> HeldParts | None:
        """The own entrypoint and command a held container runs once released, merged with
        its image's as the engine would (None: no hold, when there is nothing to run, so that
        the engine says so as ever, or no busybox on this host to hold with)."""
        if not Path(hold_source()).is_file():
            return None
        config: JSON = {}
        if not spec.entrypoint:  # the image's entrypoint or command may be the argv
            with translated(spec.image):
                config = self._api.inspect_image(spec.image).get("Config") or {}
        image = config.get("Entrypoint"), config.get("Cmd")
        parts = own_parts(spec.entrypoint, spec.command, *image)
        return parts if parts[0] or parts[1] else None

    def _inject(self, engine_id: str, spec: RunSpec) -> None:
        """Write the injected files into the created container; if the engine refuses
        (e.g. a destination under a read-only volume), remove it: no container without them."""
        try:
            with translated(engine_id):
                if not self._api.put_archive(engine_id, "/", files_tar(spec.files)):
                    raise errors.RuntimeFailure(reason="the engine did not take the files")
        except errors.DockyardError:
            self.remove(engine_id)
            raise

    def start(self, engine_id: str) -> None:
        """Start the container; starting a running one is a no-op (the engine's 304).

        A container joined to a sandbox that is not running (or gone) cannot start:
        RuntimeConflict, and the engine records exit code 128 and the error.
        """
        try:
            with translated(engine_id):
                self._api.start(engine_id)
        except (errors.RuntimeNotFound, errors.RuntimeFailure) as exc:
            blocked = self._blocked_by_sandbox(engine_id)
            if blocked is None:
                raise
            raise blocked from exc

    def stop(self, engine_id: str, timeout: int | None = None) -> None:
        """SIGTERM, then SIGKILL after timeout seconds; a no-op if not running."""
        with translated(engine_id):
            self._api.stop(engine_id, timeout=timeout)

    def restart(self, engine_id: str, timeout: int | None = None) -> None:
        """Stop (as stop does) and start again, from any state."""
        try:
            with translated(engine_id):
                self._api.restart(engine_id, timeout=10 if timeout is None else timeout)
        except (errors.RuntimeNotFound, errors.RuntimeFailure) as exc:
            blocked = self._blocked_by_sandbox(engine_id)
            if blocked is None:
                raise
            raise blocked from exc

    def _blocked_by_sandbox(self, engine_id: str) -> errors.RuntimeConflict | None:
        # The engine answers a start of a container whose sandbox is gone with 404 (as if the
        # container were missing), and a restart of one whose sandbox is not running with
        # 500; both are conflicts with the sandbox's state. Told apart by state, not text.
        try:
            container = self.inspect(engine_id)
        except errors.RuntimeNotFound:
            return None
        if container.sandbox_id is None:
            return None
        try:
            sandbox = self.inspect(container.sandbox_id)
        except errors.RuntimeNotFound:
            return errors.RuntimeConflict(reason=f"its sandbox {container.sandbox_id} is gone")
        if sandbox.state not in ("running", "paused"):
            return errors.RuntimeConflict(reason=f"its sandbox {sandbox.id} is {sandbox.state}")
        return None

    def pause(self, engine_id: str) -> None:
        """Freeze a running container; RuntimeConflict if it is not running or already paused."""
        with translated(engine_id):
            self._api.pause(engine_id)

    def unpause(self, engine_id: str) -> None:
        """Thaw a paused container (engine 20.10 answers 500, not 409, if it is not paused)."""
        with translated(engine_id):
            self._api.unpause(engine_id)

    def kill(self, engine_id: str, signal: str | None = None) -> None:
        """Send a signal ("SIGKILL", "KILL", "9"; default SIGKILL) to PID 1 of a running one."""
        number = signal_number(signal)  # InvalidValue before the engine is asked
        with translated(engine_id):
            self._api.kill(engine_id, signal=number)

    def remove(self, engine_id: str) -> None:
        """Remove whatever the state, with anonymous volumes; a missing one is not an error."""
        try:
            with translated(engine_id):
                self._api.remove_container(engine_id, v=True, force=True)
        except errors.RuntimeNotFound:
            pass

    def update_resources(self, engine_id: str, cpu: float | None, memory_mib: int | None) -> None:
        """Change CPU and memory limits in place; None leaves that limit unchanged."""
        quota = int(cpu * CPU_PERIOD) if cpu else None
        memory = memory_mib * MIB if memory_mib else None
        with translated(engine_id):
            self._api.update_container(
                engine_id,
                cpu_period=CPU_PERIOD if quota else None,
                cpu_quota=quota,
                mem_limit=memory,
                memswap_limit=memory,
            )

    def logs(
        self,
        engine_id: str,
        *,
        stdout: bool = True,
        stderr: bool = True,
        tail: int | None = None,
        since: datetime | None = None,
        timestamps: bool = False,
    ) -> bytes:
        """The container's output so far, stdout and stderr interleaved as the engine kept them."""
        with translated(engine_id):
            output: bytes = self._api.logs(
                engine_id,
                stdout=stdout,
                stderr=stderr,
                stream=False,
                timestamps=timestamps,
                tail="all" if tail is None else tail,
                since=since.timestamp() if since is not None else None,
            )
        return output

    def exec(self, engine_id: str, command: list[str], timeout: float) -> ExecResult:
        """Run command in the running container; ExecTimeout after timeout seconds.

        On timeout the process is left running in the container: the Engine API cannot kill
        an exec, and the caller only stops waiting for it.
        """
        with translated(engine_id):
            exec_id = str(self._api.exec_create(engine_id, command)["Id"])
            stream = self._api.exec_start(exec_id, stream=True, demux=False)
            output = _read_until(stream, timeout)
            return ExecResult(output=output, exit_code=self._exec_exit_code(exec_id))

    def _exec_exit_code(self, exec_id: str) -> int | None:
        # The output can end a moment before the engine records the exit code: look again
        # for up to about a second; still running then, the code is unknown (None).
        looking = Retrying(
            retry=retry_if_result(lambda state: bool(state.get("Running"))),
            stop=stop_after_attempt(50),
            wait=wait_fixed(0.02),
            retry_error_callback=lambda _: {},
        )
        state: JSON = looking(self._api.exec_inspect, exec_id)
        code = state.get("ExitCode")
        return int(code) if code is not None else None

    def top(self, engine_id: str, ps_args: str | None = None) -> Top:
        """The processes in a running container, as `ps` inside it reports them."""
        with translated(engine_id):
            result: JSON = self._api.top(engine_id, ps_args=ps_args)
        return Top(
            titles=[str(t) for t in result.get("Titles") or []],
            processes=[[str(c) for c in row] for row in result.get("Processes") or []],
        )

    def stats(self, engine_id: str) -> dict[str, object]:
        """One stats document; takes ~1 s on a running container to sample CPU twice."""
        with translated(engine_id):
            sample: dict[str, object] = self._api.stats(engine_id, stream=False)
        return sample


def _read_until(stream: Any, timeout: float) -> bytes:
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        stream.close()  # wakes the blocked read

    timer = threading.Timer(timeout, expire)
    timer.daemon = True
    timer.start()
    try:
        output = b"".join(stream)
    except (OSError, ValueError) as exc:  # a read racing the close; see docker_events._drain
        if not expired.is_set():
            raise errors.RuntimeFailure(reason=f"exec output broke: {exc}") from exc
        output = b""
    finally:
        timer.cancel()
        stream.close()  # an upgraded exec connection cannot go back to the pool
    if expired.is_set():
        raise errors.ExecTimeout(timeout=timeout)
    return output


def _disk_total_gib(root: str) -> int:
    # DockerRootDir is a path on the engine's machine; a remote engine's is not ours to measure.
    try:
        return shutil.disk_usage(root).total // GIB if root else 0
    except OSError:
        return 0
