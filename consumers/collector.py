"""The cycle collector, tuned for the long-running commands (`run`, `api`, `replay`), and
paused for a replay's fold (`cycle_collector_paused`).

Python's default thresholds (700, 10, 10) suit small heaps. This service keeps many objects
alive for a while (a poll of up to 15,000 records folded at once, a cache of documents), so
with the defaults every object a fold makes was promoted to the oldest generation and
traversed again by each full collection: under a backlog the collector took 39% of the
service's CPU (12.6 of 32.2 CPU-seconds on the bench's 200k stream, counted with
`gc.callbacks`). With what start-up made frozen (modules, schemas, the app: never garbage)
and young collections 70 times rarer, a fold's objects die young: 2.5 of 20.6 CPU-seconds,
and C rose from 3,977 to 5,157 records/s in a same-host run (`docs/performance.md`). The
garbage that only the collector frees (reference cycles: a few per error) waits longer, a
bounded amount: peak memory did not move.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["THRESHOLDS", "cycle_collector_paused", "tune_cycle_collector"]

THRESHOLDS = (50_000, 20, 10)


def tune_cycle_collector() -> None:
    """Freeze what exists now (call once start-up's imports are done) and raise the
    thresholds."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


@contextlib.contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """A fold makes millions of objects and keeps most of them to its end: the cycle
    collector's passes over them took a third of its time, and found next to nothing
    (reference counting frees the fold's garbage). Paused for one fold, run once after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            gc.collect()
