"""Process and port helpers: start servers detached, tell whether they live, stop them for good."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from devstack.config import StackError

LOOPBACK = "127.0.0.1"

# Popen objects of the servers this Python process started. Keeping them lets us reap our own
# children (a dead child stays a zombie, which `kill(pid, 0)` would still report as alive).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def pick_free_ports(count: int) -> list[int]:
    """Ask the kernel for `count` distinct free loopback ports.

    All sockets stay open until every port is known, so the ports differ; another process can
    still take one before the server binds it, which the caller handles by retrying.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((LOOPBACK, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    """True when nothing listens on the loopback port.

    SO_REUSEADDR matches what the servers do, so a port in TIME_WAIT from a server we just
    stopped counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def port_answers(port: int, timeout_s: float = 1.0) -> bool:
    """True when a TCP connection to the loopback port succeeds."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def spawn(cmd: list[str], log_path: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start `cmd` detached in its own session, stdout and stderr appended to `log_path`.

    Its own session means it outlives the shell that ran `devstack up` and that one killpg
    stops it with anything it forks.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def exit_status(pid: int) -> int | None:
    """Exit status of a server this process started and that has ended, else None."""
    child = _CHILDREN.get(pid)
    return None if child is None else child.poll()


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state, ppid, pgrp, ...), if readable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def is_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie."""
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _proc_stat(pid)
    return stat is None or stat[0] != "Z"


def cmdline(pid: int) -> str:
    """The command line of a process, arguments joined by spaces ('' if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    except FileNotFoundError:
        return ""
    except OSError:
        pass
    # No /proc (macOS): ask ps.
    out = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()


def owns(pid: int | None, markers: list[str]) -> bool:
    """True when `pid` is a live process whose command line contains every marker.

    The markers (paths inside this stack's folder) guard against a recycled pid: we never
    signal a process that is not this stack's server.
    """
    if not pid or not is_alive(pid):
        return False
    line = cmdline(pid)
    return all(marker in line for marker in markers)


def find_pids(markers: list[str]) -> list[int]:
    """Live processes whose command line contains every marker (Linux; [] without /proc)."""
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            pid = int(entry.name)
            if owns(pid, markers):
                found.append(pid)
    return found


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process belongs to the process group."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[0] != "Z" and stat[2] == str(pgid):
                return True
    return False


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _wait_group_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def stop_group(pid: int, grace_s: float = 20.0, graceful: bool = True) -> None:
    """Stop the process group led by `pid` (SIGTERM, then SIGKILL after `grace_s`) and verify.

    `graceful=False` sends SIGKILL at once, like a crash. The servers were started with
    start_new_session, so their pid is their process group id.
    """
    pgid = pid
    if graceful:
        _signal_group(pgid, signal.SIGTERM)
        if _wait_group_gone(pgid, grace_s):
            return
    _signal_group(pgid, signal.SIGKILL)
    if not _wait_group_gone(pgid, 10.0):
        raise StackError(f"process group {pgid} survived SIGKILL; see `ps -g {pgid}`")


def log_size(path: Path) -> int:
    """Current size of a log file (0 if missing): where this start's output begins."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def read_log(path: Path, offset: int = 0) -> str:
    """Text of a log file from byte `offset` on ('' if missing)."""
    try:
        with open(path, "rb") as handle:
            if offset <= log_size(path):
                handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def tail(path: Path, lines: int = 30, offset: int = 0) -> str:
    """The last `lines` lines of a log file from byte `offset` on, for error messages."""
    text = read_log(path, offset)
    if not text.strip():
        return f"(nothing in {path})"
    return "\n".join(text.splitlines()[-lines:])


def rotate_log(path: Path, max_bytes: int = 32 * 1024 * 1024) -> None:
    """Move a large log aside before a start, so the logs do not grow without bound."""
    if log_size(path) > max_bytes:
        os.replace(path, path.with_name(path.name + ".1"))


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
