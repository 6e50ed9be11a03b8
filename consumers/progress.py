"""Progress of a long read of Kafka partitions: per topic, done of total, rate, ETA."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import TextIO

from aiokafka import TopicPartition

__all__ = ["Progress"]


class Progress:
    """Prints at most once a second (and once at the end) to stderr."""

    def __init__(
        self,
        begin: dict[TopicPartition, int],
        end: dict[TopicPartition, int],
        out: TextIO = sys.stderr,
        interval_s: float = 1.0,
    ) -> None:
        self._begin, self._end, self._out, self._interval = begin, end, out, interval_s
        self._started = self._shown = time.monotonic()
        self.total = sum(max(0, end[tp] - begin[tp]) for tp in end)

    def show(self, position: dict[TopicPartition, int], final: bool = False) -> None:
        """Print the state now, unless it was printed less than a second ago."""
        now = time.monotonic()
        if not final and now - self._shown < self._interval:
            return
        self._shown = now
        done_by: dict[str, int] = defaultdict(int)
        total_by: dict[str, int] = defaultdict(int)
        for tp, end in self._end.items():
            done_by[tp.topic] += max(0, position[tp] - self._begin[tp])
            total_by[tp.topic] += max(0, end - self._begin[tp])
        done = sum(done_by.values())
        elapsed = max(now - self._started, 1e-6)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        topics = "  ".join(f"{t}: {done_by[t]:,}/{total_by[t]:,}" for t in sorted(total_by))
        head = ("replay done" if done >= self.total else "replay stopped") if final else "replay"
        timing = f"in {_duration(elapsed)}" if final else f"ETA {_duration(eta)}"
        print(
            f"{head}: {done:,}/{self.total:,} records ({100 * done / max(self.total, 1):.0f}%), "
            f"{rate:,.0f} rec/s, {timing} | {topics}",
            file=self._out,
            flush=True,
        )


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
