"""Figure C: the real service as a process, from an empty database until caught up."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bench.progress import wait_committed
from bench.scrape import DbCounts, scrape_db_counts
from testkit.harness import BIN, Env, ServiceProcess, http_address

__all__ = [
    "ProfiledServiceProcess",
    "ServiceRun",
    "peak_rss_mib",
    "prefix_rate",
    "run_until_caught_up",
]


@dataclass
class ServiceRun:
    """What one run from empty to caught up measured."""

    records: int
    total: int
    seconds: float
    peak_rss_mib: float
    exit_code: int
    log_path: Path
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds, committed)
    db: DbCounts = field(default_factory=DbCounts)  # from the group join until caught up
    db_steady: DbCounts = field(default_factory=DbCounts)  # over the second half of the records
    steady_records: int = 0
    settle_s: float | None = None  # from caught up to exited: final recount, outbox flush

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def complete(self) -> bool:
        return self.records >= self.total

    @property
    def writes_per_record(self) -> float | None:
        return self.db.writes / self.records if self.records else None

    @property
    def reads_per_record(self) -> float | None:
        """In steady state: over the second half of the records (the first polls read what
        the cache has not seen yet)."""
        return self.db_steady.reads / self.steady_records if self.steady_records else None


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a live process, in MiB (0 when it cannot be read)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ProfiledServiceProcess(ServiceProcess):
    """`batch-service run` under cProfile; the profile is written when SIGTERM ends it."""

    def __init__(self, env: Env, log_dir: Path, profile_path: Path) -> None:
        super().__init__(env, log_dir, "profiled")
        self.profile_path = profile_path

    def start(self) -> ProfiledServiceProcess:
        self._log = self.log_path.open("wb")
        command = [sys.executable, "-m", "cProfile", "-o", str(self.profile_path), str(BIN), "run"]
        self.proc = subprocess.Popen(
            command, env=self.env.as_environ(), stdout=self._log, stderr=subprocess.STDOUT
        )
        return self


async def run_until_caught_up(service: ServiceProcess, env: Env, budget_s: float) -> ServiceRun:
    """Start `service`; time from its group join until every inbound offset is committed, or
    until `budget_s` passed (then the figure is the rate over what was committed). Its
    database commands are read from its `/metrics` at the join, half way and at the end."""
    service.start()
    samples: list[tuple[float, int]] = []
    half: list[tuple[int, DbCounts]] = []
    try:
        await service.wait_consuming(timeout_s=120)
        base = http_address(service)
        at_join = await scrape_db_counts(base)
        started = time.perf_counter()

        async def watch(committed: int, total: int, seconds: float) -> None:
            samples.append((seconds, committed))
            if not half and committed >= total / 2:
                half.append((committed, await scrape_db_counts(base)))

        progress = await wait_committed(
            env.kafka, env.group, list(env.topics.inbound), started, budget_s, watch
        )
        at_end = await scrape_db_counts(base)
        assert service.proc is not None
        peak = peak_rss_mib(service.proc.pid)
    except BaseException:
        service.terminate(timeout_s=60)
        raise
    settle_s: float | None = None
    if progress.done:
        began = time.perf_counter()
        code = await asyncio.to_thread(service.terminate, 300)
        settle_s = time.perf_counter() - began
    else:  # over budget: the measurement is taken, do not wait for the batch in hand
        service.kill()
        code = -9
    steady_records, steady = (
        (progress.committed - half[0][0], at_end - half[0][1]) if half else (0, DbCounts())
    )
    return ServiceRun(
        progress.committed,
        progress.total,
        progress.seconds,
        peak,
        code,
        service.log_path,
        samples,
        at_end - at_join,
        steady,
        steady_records,
        settle_s,
    )


def prefix_rate(log_path: Path, records: int) -> float | None:
    """C's rate over its first `records` records, from the service's own log (the time of
    the `batch_done` that reached them, since partitions were assigned); None if not reached."""
    assigned: datetime | None = None
    done = 0
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        stamp = entry.get("timestamp")
        if not isinstance(stamp, str):
            continue
        if entry.get("event") == "partitions_assigned" and assigned is None:
            assigned = datetime.fromisoformat(stamp)
        elif entry.get("event") == "batch_done" and assigned is not None:
            done += int(entry.get("records", 0))
            if done >= records:
                seconds = (datetime.fromisoformat(stamp) - assigned).total_seconds()
                return done / seconds if seconds > 0 else None
    return None
