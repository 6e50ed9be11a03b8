"""Worker processes that end with the process that started them.

A `ProcessPoolExecutor`'s workers outlive a parent killed hard (SIGKILL, the OOM killer, a
Job's deadline): reparented, they stay blocked for ever on a result nobody reads, holding
their memory and the parent's stderr (whoever waits for that stream's end waits for ever).
Each worker here watches its parent and exits once it is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

__all__ = ["PARENT_CHECK_S", "worker_pool"]

PARENT_CHECK_S = 1.0  # how often a worker looks for its parent


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` fresh processes (spawned: nothing of this process' event loop or sockets),
    each ending within `PARENT_CHECK_S` of this process."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )


def _die_with_parent(parent: int) -> None:
    """In a worker: a daemon thread that exits the process once its parent is gone (it is
    reparented then), whatever the worker's main thread is blocked on. Ctrl-C is the
    parent's to handle: a terminal sends it to the whole process group, and a worker that died
    of it would break the pool under the parent's clean stop. (SIGTERM keeps its default: the
    pool terminates the workers of a broken pool with it.)"""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
