"""Network faults between the service and its servers: a pinned toxiproxy, run as a process of
ours, and a small client of its HTTP API (proxies; `latency`, `timeout`, `reset_peer` toxics;
a proxy disabled is a cut).

toxiproxy-server is built once with `go install` from the Go module proxy into
`build/tools/bin` (ignored by git) and reused while it reports the pinned version.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Literal, Self

import httpx

from devstack import procs
from devstack.config import REPO_ROOT, StackError, require_tool

__all__ = [
    "TOXIPROXY_VERSION",
    "Stream",
    "Toxiproxy",
    "ToxiproxyServer",
    "ensure_toxiproxy",
]

# v2.6+ are served by the Go module proxy although its version list stops at v2.5.0; since
# v2.6 the server's main package is cmd/server (cmd/toxiproxy-server before).
TOXIPROXY_VERSION = "v2.12.0"
_PACKAGE = "github.com/Shopify/toxiproxy/v2"
_MAIN = f"{_PACKAGE}/cmd/server"
TOOLS_BIN = REPO_ROOT / "build" / "tools" / "bin"
_START_TIMEOUT_S = 15.0

# Which way a toxic acts: on what the client sends (upstream) or on what it receives.
Stream = Literal["upstream", "downstream"]


def _reported_version(binary: Path) -> str | None:
    """What `toxiproxy-server -version` says ("2.12.0"), None if it cannot say."""
    if not os.access(binary, os.X_OK):
        return None
    try:
        done = subprocess.run(
            [str(binary), "-version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else None


def ensure_toxiproxy(bin_dir: Path = TOOLS_BIN, log: Callable[[str], None] = print) -> Path:
    """The pinned toxiproxy-server, built with `go install` on first use (a notice says so)."""
    binary = bin_dir / "toxiproxy-server"
    want = TOXIPROXY_VERSION.removeprefix("v")
    bin_dir.mkdir(parents=True, exist_ok=True)
    with procs.file_lock(bin_dir / ".toxiproxy.lock"):  # two runs never build it twice at once
        if _reported_version(binary) == want:
            return binary
        go = require_tool("go")
        log(
            f"netproxy: installing toxiproxy-server {TOXIPROXY_VERSION} into {bin_dir} with "
            "`go install` from the Go module proxy (once; about a minute)"
        )
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=".toxiproxy-", dir=bin_dir) as scratch:
            # The release build's flags (its .goreleaser.yml), so that -version is the release's.
            flags = f"-s -w -X {_PACKAGE}.Version={want}"
            done = subprocess.run(
                [go, "install", "-trimpath", "-ldflags", flags, f"{_MAIN}@{TOXIPROXY_VERSION}"],
                cwd=scratch,  # outside any Go module: `pkg@version` resolves on its own
                env={**os.environ, "GOBIN": scratch},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
                raise StackError(f"go install {_MAIN}@{TOXIPROXY_VERSION} failed:\n{tail}")
            os.replace(Path(scratch) / "server", binary)  # atomic: a running copy keeps its inode
        if (got := _reported_version(binary)) != want:
            raise StackError(f"{binary} reports version {got!r}, expected {want}")
        log(f"netproxy: toxiproxy-server {want} ready in {time.monotonic() - began:.0f} s")
        return binary


class ToxiproxyServer:
    """toxiproxy-server on a free loopback port, in a process group of its own, its output in
    `log_path`; stopped on exit from the `with` block, and at interpreter exit at the latest."""

    def __init__(self, log_path: Path, seed: int = 0, binary: Path | None = None) -> None:
        self.log_path = log_path
        self.seed = seed  # toxiproxy's own randomness (latency jitter): reproducible
        self.binary = binary
        self.pid: int | None = None
        self.api = ""

    def start(self) -> Self:
        """Start it and wait until its API answers (StackError with its log otherwise)."""
        binary = self.binary or ensure_toxiproxy()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, 4):
            port = procs.pick_free_ports(1)[0]
            self.api = f"http://{procs.LOOPBACK}:{port}"
            cmd = [
                str(binary),
                "-host",
                procs.LOOPBACK,
                "-port",
                str(port),
                "-seed",
                str(self.seed),
            ]
            offset = procs.log_size(self.log_path)
            self.pid = procs.spawn(cmd, self.log_path, self.log_path.parent)
            atexit.register(self.stop)
            if self._wait_ready():
                return self
            died = not procs.is_alive(self.pid)
            self.stop()
            if not died or attempt == 3:  # a dead start may have lost its port to another
                raise StackError(
                    f"toxiproxy-server did not answer on {self.api} within "
                    f"{_START_TIMEOUT_S:.0f} s:\n{procs.tail(self.log_path, offset=offset)}"
                )
        raise AssertionError("unreachable")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while self.pid is not None and procs.is_alive(self.pid):
            try:
                if httpx.get(f"{self.api}/version", timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """Stop its process group (SIGTERM, SIGKILL after 5 s); harmless when stopped."""
        pid, self.pid = self.pid, None
        atexit.unregister(self.stop)
        if pid is not None:
            procs.stop_group(pid, grace_s=5.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Toxiproxy:
    """An async client of toxiproxy's HTTP API (`async with Toxiproxy(server.api) as api`)."""

    def __init__(self, api: str, timeout_s: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=api, timeout=timeout_s)
        self._made = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise StackError(f"toxiproxy {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def version(self) -> str:
        """The server's version (its /version text)."""
        response = await self._http.get("/version")
        return response.text.strip()

    async def create(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> str:
        """A proxy from `listen` (default: a free port) to `upstream`; returns where it
        listens. The upstream need not answer yet: it is dialled per client connection."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        return str((await self._call("POST", "/proxies", body))["listen"])

    async def set_upstream(self, name: str, upstream: str) -> None:
        """Forward to `upstream` from now on (the proxy keeps its listening port)."""
        await self._call("PATCH", f"/proxies/{name}", {"upstream": upstream})

    async def cut(self, name: str) -> None:
        """Disable the proxy: open connections are closed and new ones refused."""
        await self._call("PATCH", f"/proxies/{name}", {"enabled": False})

    async def restore(self, name: str) -> None:
        """Enable the proxy again, on the same port."""
        await self._call("PATCH", f"/proxies/{name}", {"enabled": True})

    async def add_toxic(
        self, proxy: str, kind: str, stream: Stream = "downstream", **attributes: int
    ) -> str:
        """Add a toxic to every connection of `proxy`, present and future; returns its name."""
        self._made += 1
        name = f"{kind}-{stream}-{self._made}"
        body = {"name": name, "type": kind, "stream": stream, "toxicity": 1.0}
        await self._call("POST", f"/proxies/{proxy}/toxics", {**body, "attributes": attributes})
        return name

    async def remove_toxic(self, proxy: str, name: str) -> None:
        """Take a toxic away (a `timeout` toxic closes the connections it held when removed)."""
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    async def reset(self) -> None:
        """Heal everything: every proxy enabled, every toxic removed."""
        await self._call("POST", "/reset")

    @asynccontextmanager
    async def toxic(
        self, proxy: str, kind: str, stream: Stream = "downstream", **attributes: int
    ) -> AsyncIterator[str]:
        """A toxic on every connection of `proxy` for the `async with` block, taken away again
        whatever happens."""
        name = await self.add_toxic(proxy, kind, stream, **attributes)
        try:
            yield name
        finally:
            await self.remove_toxic(proxy, name)

    def latency(
        self, proxy: str, seconds: float, jitter_s: float = 0.0, stream: Stream = "downstream"
    ) -> AbstractAsyncContextManager[str]:
        """Each chunk of data delayed by `seconds` (plus or minus up to `jitter_s`)."""
        return self.toxic(proxy, "latency", stream, latency=_ms(seconds), jitter=_ms(jitter_s))

    def timeout(
        self, proxy: str, seconds: float = 0.0, stream: Stream = "downstream"
    ) -> AbstractAsyncContextManager[str]:
        """Data stops (dropped); each connection is closed after `seconds`, or, with 0, stays
        open, half-open, until the block ends (toxiproxy then closes the ones it held)."""
        return self.toxic(proxy, "timeout", stream, timeout=_ms(seconds))

    def reset_peer(
        self, proxy: str, after_s: float = 0.0, stream: Stream = "upstream"
    ) -> AbstractAsyncContextManager[str]:
        """Each connection reset (TCP RST) `after_s` after its next data; new ones accepted,
        then reset the same way."""
        return self.toxic(proxy, "reset_peer", stream, timeout=_ms(after_s))

    @asynccontextmanager
    async def cut_off(self, name: str) -> AsyncIterator[None]:
        """The proxy disabled for the `async with` block, enabled again whatever happens."""
        await self.cut(name)
        try:
            yield
        finally:
            await self.restore(name)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
