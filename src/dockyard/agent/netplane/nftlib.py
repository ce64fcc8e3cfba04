"""nft scripts run through libnftables inside this process: no `nft` to spawn.

A port's rules are loaded on a container's way to running, and an `nft -f` run cost
≈20-25 ms of CPU here, most of it the process and its start-up rather than the kernel's
commit. One libnftables context per namespace serves every script (contexts are not
thread-safe: a lock keeps one script at a time). A context's netlink socket belongs to the
namespace it was opened in, and the library may open it again; so for another namespace
(a test's host) every call runs on one thread that lives in that namespace.
"""

from __future__ import annotations

import ctypes
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dockyard.agent.netplane.dns import enter_netns

LIBRARY = "libnftables.so.1"  # Debian's libnftables1, which the nftables package pulls in
NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_JSON = 1 << 4

_loaded: ctypes.CDLL | None = None
_loading = threading.Lock()


def _library() -> ctypes.CDLL:
    global _loaded
    with _loading:
        if _loaded is None:
            lib = ctypes.CDLL(LIBRARY)
            ctx, text = ctypes.c_void_p, ctypes.c_char_p
            for name, result, args in (
                ("nft_ctx_new", ctx, [ctypes.c_uint32]),
                ("nft_ctx_free", None, [ctx]),
                ("nft_ctx_buffer_output", ctypes.c_int, [ctx]),
                ("nft_ctx_buffer_error", ctypes.c_int, [ctx]),
                ("nft_ctx_get_output_buffer", text, [ctx]),
                ("nft_ctx_get_error_buffer", text, [ctx]),
                ("nft_ctx_output_get_flags", ctypes.c_uint, [ctx]),
                ("nft_ctx_output_set_flags", None, [ctx, ctypes.c_uint]),
                ("nft_run_cmd_from_buffer", ctypes.c_int, [ctx, text]),
            ):
                function = getattr(lib, name)
                function.restype, function.argtypes = result, args
            _loaded = lib
        return _loaded


class NftError(RuntimeError):
    """libnftables refused a script; the message is what `nft` would have printed."""


class Nftables:
    """One libnftables context in one network namespace (the agent's own when None)."""

    def __init__(self, netns: str | None = None) -> None:
        self._lock = threading.Lock()
        self._ctx: int | None = None
        self._thread: ThreadPoolExecutor | None = None
        if netns is not None:
            self._thread = ThreadPoolExecutor(
                1, thread_name_prefix="nft", initializer=enter_netns, initargs=(netns,)
            )

    def run(self, script: str, *, as_json: bool = False) -> str:
        """Run the script as `nft -f -` would (one transaction); its output, if any."""
        with self._lock:
            if self._thread is None:
                return self._run(script, as_json)
            return self._thread.submit(self._run, script, as_json).result()

    def json(self, command: str) -> Any:
        """A listing command's output as `nft -j` gives it; [] when it printed nothing."""
        out = self.run(command, as_json=True).strip()
        return json.loads(out) if out else []

    def close(self) -> None:
        with self._lock:
            if self._ctx is not None:
                if self._thread is None:
                    _library().nft_ctx_free(self._ctx)
                else:
                    self._thread.submit(_library().nft_ctx_free, self._ctx).result()
                self._ctx = None
            if self._thread is not None:
                self._thread.shutdown()
                self._thread = None

    def _run(self, script: str, as_json: bool) -> str:
        lib = _library()
        if self._ctx is None:
            ctx = lib.nft_ctx_new(NFT_CTX_DEFAULT)
            if not ctx:
                raise NftError("nft_ctx_new failed")
            lib.nft_ctx_buffer_output(ctx)
            lib.nft_ctx_buffer_error(ctx)
            self._ctx = ctx
        plain = lib.nft_ctx_output_get_flags(self._ctx) & ~NFT_CTX_OUTPUT_JSON
        lib.nft_ctx_output_set_flags(self._ctx, plain | (NFT_CTX_OUTPUT_JSON if as_json else 0))
        failed = lib.nft_run_cmd_from_buffer(self._ctx, script.encode())
        # Both buffers are read (and so emptied) every time.
        out = (lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
        err = (lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if failed:
            raise NftError(err.strip() or "nft: failed")
        return out
