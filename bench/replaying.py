"""Figure R: `batch-service replay --into` a fresh shadow database, as a process.

The rate is the replay's own (it prints the records it read and folded and the seconds it
took, from its start to its documents and counts written; the report against the live
database is skipped with `--no-diff`). Its progress lines are timestamped as they arrive, for
the plot: records read (the rule topics, then the learner facts, spilled), then documents
inserted, group by group.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from testkit.harness import BIN, Env

__all__ = ["ReplayRun", "run_shadow_replay"]

_READ = re.compile(r"^replay(?: done)?: ([\d,]+)/([\d,]+) records")
_GROUP = re.compile(r"^replay: group (\d+)/(\d+) folded \(([\d,]+) documents")
_DONE = re.compile(r"^replay: ([\d,]+) records in ([\d.]+)s")


@dataclass
class ReplayRun:
    """What a shadow replay printed, and when."""

    exit_code: int = -1
    records: int = 0
    seconds: float = 0.0
    wall_s: float = 0.0
    read: list[tuple[float, int]] = field(default_factory=list)  # (seconds, records read)
    inserted: list[tuple[float, int]] = field(default_factory=list)  # (seconds, documents)
    log_path: Path | None = None

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _number(text: str) -> int:
    return int(text.replace(",", ""))


async def run_shadow_replay(env: Env, shadow_db: str, log_dir: Path, budget_s: float) -> ReplayRun:
    """Replay `env`'s topics into `shadow_db` (which must not exist yet)."""
    log_path = log_dir / f"replay-{shadow_db}.log"
    run = ReplayRun(log_path=log_path)
    proc = await asyncio.create_subprocess_exec(
        str(BIN),
        "replay",
        "--into",
        shadow_db,
        "--no-diff",
        env=env.as_environ(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    started = time.perf_counter()
    read_before = 0  # the rule topics are read first, then the learner topics: one axis
    assert proc.stderr is not None
    with log_path.open("w") as log:
        try:
            async with asyncio.timeout(budget_s):
                while line := (await proc.stderr.readline()).decode(errors="replace"):
                    log.write(line)
                    now = time.perf_counter() - started
                    if found := _READ.match(line):
                        done = _number(found[1])
                        run.read.append((now, read_before + done))
                        if line.startswith("replay done"):
                            read_before += done
                    elif found := _GROUP.match(line):
                        run.inserted.append((now, _number(found[3])))
                    elif found := _DONE.match(line):
                        run.records, run.seconds = _number(found[1]), float(found[2])
                run.exit_code = await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            run.exit_code = -9
    run.wall_s = time.perf_counter() - started
    return run
