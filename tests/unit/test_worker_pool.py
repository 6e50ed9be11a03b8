"""A fold worker ends with its parent: a replay killed hard (SIGKILL) leaves no worker behind,
blocked for ever, holding its memory and the replay's stderr."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The parent: a pool of one worker, busy for a minute; prints the worker's pid, then waits.
PARENT = """
import os, sys, time
from consumers.worker_pool import worker_pool
pool = worker_pool(1)
print(pool.submit(os.getpid).result(), flush=True)
pool.submit(time.sleep, 60)
time.sleep(60)
"""


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in state  # a zombie has ended (its reaper may not reap)


def test_a_worker_ends_soon_after_its_parent_is_killed_hard() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert _running(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(worker), "the worker outlived its parent"
    finally:
        parent.kill()
        if "worker" in locals() and _running(worker):
            os.kill(worker, signal.SIGKILL)
