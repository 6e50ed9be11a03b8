"""Where the service's time goes: the service process under cProfile, summarized."""

from __future__ import annotations

import asyncio
import io
import pstats
import time
from dataclasses import dataclass
from pathlib import Path

from bench.progress import wait_committed
from bench.service import ProfiledServiceProcess
from testkit.harness import Env

__all__ = ["ProfileSummary", "profile_service", "summarize"]

# Buckets by where a function lives (file path fragment or function name), first match wins.
_BUCKETS = (
    ("event loop idle (waiting on I/O: MongoDB, Kafka)", ("select.epoll", "poll'")),
    ("pydantic validation", ("pydantic", "validate")),
    ("model_copy / model_dump", ("model_copy", "model_dump", "copy.py")),
    ("pymongo (BSON, protocol)", ("pymongo", "bson")),
    ("aiokafka (fetch, protocol)", ("aiokafka", "kafka")),
    ("json", ("json",)),
    ("domain fold (services/domain)", ("services/domain",)),
    ("logging (structlog)", ("structlog", "logging")),
)


@dataclass
class ProfileSummary:
    records: int
    seconds: float
    text: str


def summarize(path: Path, top: int = 25) -> str:
    """Top functions by cumulative and by own time, and own time by bucket."""
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    buckets: dict[str, float] = {}
    raw = stats.stats  # type: ignore[attr-defined]
    for (file, _line, name), (_cc, _nc, tt, _ct, _callers) in raw.items():
        where = f"{file}:{name}'"
        for label, needles in _BUCKETS:
            if any(n in where for n in needles):
                buckets[label] = buckets.get(label, 0.0) + tt
                break
        else:
            buckets["other Python"] = buckets.get("other Python", 0.0) + tt
    out.write(f"own time by bucket (total {total:.1f}s of profiled CPU + waits):\n")
    for label, tt in sorted(buckets.items(), key=lambda kv: -kv[1]):
        out.write(f"  {tt:8.2f}s {100 * tt / total:5.1f}%  {label}\n")
    out.write(f"\ntop {top} by cumulative time:\n")
    stats.sort_stats("cumulative").print_stats(top)
    out.write(f"\ntop {top} by own time:\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


async def profile_service(env: Env, log_dir: Path, budget_s: float) -> ProfileSummary:
    """Run the service under cProfile until caught up (or budget), SIGTERM, summarize."""
    path = log_dir / "service.prof"
    service = ProfiledServiceProcess(env, log_dir, path).start()
    try:
        await service.wait_consuming(timeout_s=120)
        started = time.perf_counter()
        progress = await wait_committed(
            env.kafka, env.group, list(env.topics.inbound), started, budget_s
        )
    finally:
        # SIGTERM: the service finishes the batch in hand and exits; cProfile then writes.
        await asyncio.to_thread(service.terminate, 300)
    text = summarize(path) if path.exists() else f"no profile written at {path}"
    return ProfileSummary(progress.committed, progress.seconds, f"profile {path}\n{text}")
