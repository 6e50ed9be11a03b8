"""Wall-clock time by step of the service's own loop, measured in-process.

cProfile shows that the service process mostly *waits* (epoll): it cannot say on what. This
runs the same composition (`consumers.bootstrap`, `ConsumerLoop`, the same Settings) inside
the bench process, with a timer around every store, publisher and consumer call and around
the pure fold, so the wait is attributed to the MongoDB or Kafka operation that caused it.
Nothing of the service is changed: the wrappers are set on this process's instances only.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import consumers.loop
import services.convergence
from bench.progress import wait_committed
from consumers.bootstrap import bootstrap, make_consumer
from consumers.logs import configure_logging
from services.settings import Settings
from testkit.harness import Env

__all__ = ["PhaseTimes", "time_phases"]

_STORE_PIECES = ("documents", "outbox", "counts", "refresh", "locks")


@dataclass
class PhaseTimes:
    """Seconds and calls per step; `wall` is the whole run."""

    wall: float = 0.0
    records: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def table(self) -> str:
        lines = [f"wall {self.wall:.1f}s for {self.records:,} records; by step:"]
        for name, secs in sorted(self.seconds.items(), key=lambda kv: -kv[1]):
            calls = self.calls[name]
            lines.append(
                f"  {secs:8.2f}s {100 * secs / max(self.wall, 1e-9):5.1f}%  {calls:7,} calls "
                f"{1000 * secs / max(calls, 1):9.1f} ms/call  {name}"
            )
        return "\n".join(lines)


def _async_timer(times: PhaseTimes, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            times.seconds[name] += time.perf_counter() - started
            times.calls[name] += 1

    return timed


def _sync_timer(times: PhaseTimes, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            times.seconds[name] += time.perf_counter() - started
            times.calls[name] += 1

    return timed


async def time_phases(env: Env, budget_s: float) -> PhaseTimes:
    """Consume `env`'s topics from the start with the service's loop, timing every step."""
    environ = env.as_environ()
    settings = Settings(
        kafka_bootstrap=env.kafka,
        mongodb_uri=env.mongo,
        db=env.db,
        topic_prefix=env.prefix,
        group_id=env.group,
        retry_backoff_max_s=float(environ["BATCH_SERVICE_RETRY_BACKOFF_MAX_S"]),
        log_level="WARNING",
    )
    configure_logging(settings.log_level)  # quiet: the service's INFO lines are not wanted here
    times = PhaseTimes()
    patches = [
        (consumers.loop, "parse_record", "parse + validate (pydantic)"),
        (services.convergence, "add_facts", "add_facts (pure fold)"),
        (services.convergence, "settle", "settle (pure fold)"),
    ]
    saved = [(module, attr, getattr(module, attr)) for module, attr, _ in patches]
    for module, attr, name in patches:
        setattr(module, attr, _sync_timer(times, name, getattr(module, attr)))
    stop = asyncio.Event()
    try:
        async with bootstrap(settings, stop=stop) as w:
            for piece_name in _STORE_PIECES:
                piece = getattr(w.stores, piece_name)
                for op in [n for n in dir(piece) if not n.startswith("_")]:
                    if inspect.iscoroutinefunction(getattr(piece, op)):
                        timed = _async_timer(times, f"mongo {piece_name}.{op}", getattr(piece, op))
                        setattr(piece, op, timed)
            for op in ("announce", "dead_letter"):
                setattr(
                    w.publisher, op, _async_timer(times, f"kafka {op}", getattr(w.publisher, op))
                )
            w.pipeline.handle = _async_timer(  # type: ignore[method-assign]
                times, "pipeline.handle (total)", w.pipeline.handle
            )
            consumer = make_consumer(settings, group_id=settings.group_id)
            loop = w.consumer_loop(consumer)
            await loop.start()
            consumer.getmany = _async_timer(times, "kafka getmany", consumer.getmany)
            consumer.commit = _async_timer(times, "kafka commit", consumer.commit)
            try:
                started = time.perf_counter()
                task = asyncio.create_task(loop.run(stop))
                progress = await wait_committed(
                    env.kafka, env.group, list(env.topics.inbound), started, budget_s
                )
                stop.set()
                with contextlib.suppress(TimeoutError):  # then the loop was cancelled
                    await asyncio.wait_for(task, 60)
                times.wall = time.perf_counter() - started
                times.records = progress.committed
            finally:
                await consumer.stop()
    finally:
        for module, attr, original in saved:
            setattr(module, attr, original)
    return times
