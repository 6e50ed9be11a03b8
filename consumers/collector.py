"""The cycle collector, tuned for the long-running commands (`run`, `api`, `replay`).

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

import gc

__all__ = ["THRESHOLDS", "tune_cycle_collector"]

THRESHOLDS = (50_000, 20, 10)


def tune_cycle_collector() -> None:
    """Freeze what exists now (call once start-up's imports are done) and raise the
    thresholds."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
