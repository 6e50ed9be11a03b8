"""What a server of the stack is (configure, run, probe) and how to start one."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from devstack import procs
from devstack.config import Layout, PortInUseError, StackError

# The PostgreSQL databases the two FerretDB servers store into. One each: FerretDB 1.x caches
# its catalogue in memory, so two servers on one database do not see each other's collections.
DATABASE = "ferretdb"
DATABASE_TLS = "ferretdb_tls"

Ports = dict[str, int]


class Server:
    """How to configure, run and probe one server; subclasses fill in the specifics."""

    name = ""
    port_keys: tuple[str, ...] = ()

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    @property
    def workdir(self) -> Path:
        raise NotImplementedError

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def markers(self) -> list[str]:
        """Substrings of the command line that identify this stack's instance of the server."""
        raise NotImplementedError

    def prepare(self, ports: Ports) -> None:
        """Write configuration and initialise data before a start."""

    def command(self, ports: Ports) -> list[str]:
        raise NotImplementedError

    def ready(self, ports: Ports, log_offset: int) -> bool:
        """True when the server accepts clients (output of this start begins at `log_offset`)."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """Variables added to the server's environment (secrets go here, not in argv)."""
        return {}

    def after_start(self, ports: Ports) -> None:
        """Set up what clients need once the server answers (users, databases); idempotent."""

    def address(self, ports: Ports) -> str:
        """The address clients use."""
        raise NotImplementedError


def launch(server: Server, ports: Ports, timeout_s: float) -> int:
    """Start `server` on `ports`, wait until it is usable, and return its pid.

    On failure the process is stopped and StackError carries the tail of its log;
    PortInUseError means another process holds (or just took) one of the ports.
    """
    for key, port in ports.items():
        if not procs.port_is_free(port):
            raise PortInUseError(
                f"{server.name}: {key} {procs.LOOPBACK}:{port} is in use by another process"
            )
    server.prepare(ports)
    procs.rotate_log(server.log_path)
    offset = procs.log_size(server.log_path)
    env = {**os.environ, **server.environment()}
    pid = procs.spawn(server.command(ports), server.log_path, server.workdir, env)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            if not procs.is_alive(pid):
                output = procs.read_log(server.log_path, offset)
                taken = [p for p in ports.values() if not procs.port_is_free(p)]
                if taken or "Address already in use" in output:
                    raise PortInUseError(
                        f"{server.name}: another process took port(s) "
                        f"{taken or list(ports.values())} during the start"
                    )
                raise StackError(
                    f"{server.name} exited during its start (pid {pid}, exit status "
                    f"{procs.exit_status(pid)}); last lines "
                    f"of {server.log_path}:\n"
                    f"{procs.tail(server.log_path, offset=offset)}"
                )
            if server.ready(ports, offset):
                # A moment later it must still run: the answering socket could be another's.
                time.sleep(0.2)
                if procs.is_alive(pid):
                    server.after_start(ports)
                    return pid
                continue
            if time.monotonic() >= deadline:
                raise StackError(
                    f"{server.name} was not ready within {timeout_s:.0f} s "
                    f"(pid {pid}); a stack whose data grew large over many runs starts "
                    f"slowly: `make stack-purge` resets it, or allow more time with "
                    f"DEVSTACK_START_TIMEOUT_S. Last lines of {server.log_path}:\n"
                    f"{procs.tail(server.log_path, offset=offset)}"
                )
            time.sleep(0.25)
    except BaseException:
        procs.stop_group(pid, grace_s=5.0)
        raise


PORT_ATTEMPTS = 3


def launch_on_ports(
    server: Server,
    ports: Ports | None,
    keep_ports: bool,
    timeout_s: float,
    log: Callable[[str], None],
) -> tuple[int, Ports]:
    """Start `server` on `ports` (or free ones), ready; returns its pid and ports. A port
    taken meanwhile by another process means new ports (up to three tries), unless
    `keep_ports`."""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        chosen = ports or dict(
            zip(server.port_keys, procs.pick_free_ports(len(server.port_keys)), strict=True)
        )
        log(f"{server.name}: starting at {server.address(chosen)} (log {server.log_path})")
        try:
            return launch(server, chosen, timeout_s), chosen
        except PortInUseError as exc:
            if keep_ports or attempt == PORT_ATTEMPTS:
                raise
            log(f"{exc}; retrying on new ports")
            ports = None
    raise AssertionError("unreachable")
