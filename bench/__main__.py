"""`python -m bench [--quick] [--facts N] [--facts-large N] ...`: every figure, then a table.

Needs BATCH_SERVICE_KAFKA_BOOTSTRAP and BATCH_SERVICE_MONGODB_URI (`make bench` sets them
through `python -m devstack exec`). Each run uses fresh topics (a unique prefix) and fresh
databases, so runs never see each other's data. Every phase has a time budget, so the whole
run ends in about `--budget` seconds (default 570) whatever the machine does; a phase cut
short by its budget says so and reports the rate over what it completed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.baseline import BaselineRun, run_baseline
from bench.compare import check_exact, diff_derived, fold_of
from bench.kafka_io import consume_all, create_topics, publish
from bench.latency import LatencyRun, percentile, steady_load
from bench.phases import time_phases
from bench.profiling import profile_service
from bench.service import ServiceRun, prefix_rate, run_until_caught_up
from bench.storeprobe import probe_store
from bench.workload import Workload, build_workload
from schemas.documents import EnrolmentDoc
from tests.e2e.harness import Env, ServiceProcess, read_docs

T = TypeVar("T")


@dataclass
class Figures:
    """Everything measured, for the final table."""

    rows: list[tuple[str, str]] = field(default_factory=list)
    a_rate: float | None = None
    b_rate: float | None = None
    c_rate: float | None = None
    c_prefix_rate: float | None = None
    p99: float | None = None
    rss_main: float | None = None
    rss_large: float | None = None
    large_facts: int | None = None

    def add(self, name: str, value: str) -> None:
        self.rows.append((name, value))
        print(f"  {name}: {value}", flush=True)


class Clock:
    """The overall budget."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.perf_counter()
        self.budget_s = budget_s

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)


def _say(message: str) -> None:
    print(f"[bench +{time.perf_counter() - _T0:6.1f}s] {message}", flush=True)


_T0 = time.perf_counter()


def _machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def _code() -> str:
    """The commit measured, and whether the working tree differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "code: unknown (not a git checkout)"
    return f"code: {head}{' + uncommitted changes' if dirty else ''}"


def _versions() -> str:
    from importlib.metadata import version

    names = ("aiokafka", "pymongo", "pydantic", "pydantic_core")
    return ", ".join(f"{n} {version(n)}" for n in names)


async def _timed(label: str, call: Awaitable[T]) -> T:
    started = time.perf_counter()
    result = await call
    _say(f"{label} done in {time.perf_counter() - started:.1f}s")
    return result


def _env(kafka: str, mongo: str, run_id: str, name: str, **extra: str) -> Env:
    prefix = f"bench{run_id}{name}."
    return Env(kafka, mongo, prefix, f"bench_{run_id}_{name}", **extra)


async def _load(env: Env, work: Workload, figures: Figures, label: str) -> None:
    await create_topics(env.kafka, env.prefix)
    seconds = await publish(env.kafka, env.prefix, work.rules)
    seconds += await publish(env.kafka, env.prefix, work.facts)
    figures.add(
        f"publish {label}",
        f"{work.records:,} records ({len(work.facts):,} facts, {work.learners:,} learners) "
        f"in {seconds:.1f}s = {work.records / seconds:,.0f} records/s",
    )


def _service_row(run: ServiceRun) -> str:
    state = "complete" if run.complete else f"PARTIAL (budget): {run.records:,}/{run.total:,}"
    return (
        f"{run.rate:,.0f} records/s ({run.records:,} records in {run.seconds:.1f}s, {state}, "
        f"exit {run.exit_code}, peak RSS {run.peak_rss_mib:.0f} MiB, log {run.log_path})"
    )


async def main(args: argparse.Namespace) -> int:
    kafka = os.environ.get("BATCH_SERVICE_KAFKA_BOOTSTRAP")
    mongo = os.environ.get("BATCH_SERVICE_MONGODB_URI")
    if not kafka or not mongo:
        print("set BATCH_SERVICE_KAFKA_BOOTSTRAP and BATCH_SERVICE_MONGODB_URI", file=sys.stderr)
        return 2
    clock = Clock(args.budget)
    run_id = uuid.uuid4().hex[:8]
    log_dir = Path(args.log_dir) / run_id
    log_dir.mkdir(parents=True, exist_ok=True)
    figures = Figures()
    print(f"bench run {run_id}: {time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}")
    print(f"machine: {_machine()}; {_versions()}; {_code()}")
    print(f"kafka {kafka}, mongodb {mongo}; logs in {log_dir}", flush=True)
    print("(shared machine: every figure is noisy; run twice before trusting a difference)")

    # 1. Load.
    _say(f"building {args.facts:,} facts")
    work = build_workload(args.facts, seed=1, keep_stream=True)
    assert work.stream is not None
    main_env = _env(kafka, mongo, run_id, "main")
    await _timed("publish", _load(main_env, work, figures, "(main)"))

    # 2. Upper bound A.
    count, seconds = await _timed(
        "A", consume_all(kafka, list(main_env.topics.inbound), work.records)
    )
    figures.a_rate = count / seconds
    figures.add("A plain consumer + json", f"{figures.a_rate:,.0f} records/s ({count:,})")

    # 4. Batch Service C (before B: B's database and offsets are separate anyway).
    budget_c = min(args.c_budget, max(30.0, clock.left() - args.reserve))
    _say(f"C: the service from an empty database (budget {budget_c:.0f}s)")
    c_run = await run_until_caught_up(ServiceProcess(main_env, log_dir, "c"), main_env, budget_c)
    figures.c_rate = c_run.rate
    figures.rss_main = c_run.peak_rss_mib
    figures.add("C batch service", _service_row(c_run))
    c_docs = await read_docs(main_env)
    if c_run.complete:
        world = work.stream.expected()
        figures.add("C documents == pure fold", check_exact(c_docs, world))
    else:
        figures.add("C documents == pure fold", "not checked: C did not catch up within budget")

    # 3. Baseline B on a prefix.
    if args.b_records > 0:
        await _baseline(kafka, mongo, run_id, args, clock, work, c_run, c_docs, figures)
    else:
        figures.add("B per-event baseline", "skipped (--b-records 0)")

    # 5. Latency at half of C's throughput.
    if args.latency_s > 0 and clock.left() > args.latency_s + 30:
        figures.p99 = await _latency(kafka, mongo, run_id, args, c_run.rate, log_dir, figures)
    else:
        figures.add("latency", "skipped: no time left in the budget")

    # 7. Profile.
    if args.profile_facts > 0 and clock.left() > 60:
        await _profile(kafka, mongo, run_id, args, log_dir, clock, figures)
    else:
        figures.add("profile", "skipped: no time left in the budget")

    # 6. Memory at the large size.
    if args.facts_large > 0 and clock.left() > 90:
        await _large(kafka, mongo, run_id, args, log_dir, clock, figures)
    elif args.facts_large > 0:
        figures.add("C large run", "skipped: no time left in the budget")

    _table(figures, args)
    return 0


async def _baseline(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    clock: Clock,
    work: Workload,
    c_run: ServiceRun,
    c_docs: dict[str, dict[str, dict[str, Any]]],
    figures: Figures,
) -> None:
    b_env = _env(kafka, mongo, run_id, "main")  # same topics, own group and database
    b_budget = min(args.b_budget, max(10.0, clock.left() - args.reserve))
    _say(f"B: per-event baseline on up to {args.b_records:,} records (budget {b_budget:.0f}s)")
    b_run = await _timed(
        "B",
        run_baseline(
            kafka,
            mongo,
            f"bench_{run_id}_baseline",
            list(b_env.topics.inbound),
            f"{b_env.prefix}bench-baseline-certificates",
            f"{b_env.prefix}baseline",
            args.b_records,
            b_budget,
        ),
    )
    figures.b_rate = b_run.rate
    figures.add(
        "B per-event baseline",
        f"{b_run.rate:,.1f} records/s ({b_run.records:,} records in {b_run.seconds:.1f}s; "
        f"prefix of {work.records:,})",
    )
    figures.c_prefix_rate = prefix_rate(c_run.log_path, b_run.records)
    if figures.c_prefix_rate is not None:
        figures.add(
            f"C over its first {b_run.records:,} records (same prefix as B)",
            f"{figures.c_prefix_rate:,.0f} records/s (from the service log)",
        )
    await _check_b(b_run, work, mongo, f"bench_{run_id}_baseline", c_docs, c_run, figures)


async def _check_b(
    b_run: BaselineRun,
    work: Workload,
    mongo: str,
    b_db: str,
    c_docs: dict[str, dict[str, dict[str, Any]]],
    c_run: ServiceRun,
    figures: Figures,
) -> None:
    assert work.stream is not None
    b_env = Env("", mongo, "", b_db)
    b_docs = (await read_docs(b_env))["enrolments"]
    facts = [f for f in work.stream.facts if f["id"] in b_run.fact_ids]
    rules = [r for r in work.stream.rules if r["id"] in b_run.rule_ids]
    world = fold_of(rules, facts)
    compared, differing, first = diff_derived(b_docs, world.enrolments, world.enrolments)
    extra = set(b_docs) - set(world.enrolments)
    verdict = "pass" if not differing and not extra else f"FAIL ({differing} differ): {first}"
    figures.add(f"B documents == pure fold of its prefix ({compared:,} learners)", verdict)
    # Learners whose every fact B processed: their documents must equal C's.
    by_learner: dict[str, set[str]] = {}
    for fact in work.stream.facts:
        key = f"{fact['data']['batchId']}\n{fact['data']['userId']}"
        by_learner.setdefault(key, set()).add(fact["id"])
    whole = [k for k, ids in by_learner.items() if ids <= b_run.fact_ids]
    if not c_run.complete:
        figures.add("B == C on derived fields", "not checked: C did not catch up within budget")
        return
    c_enrolments = {k: EnrolmentDoc.model_validate(v) for k, v in c_docs["enrolments"].items()}
    compared, differing, first = diff_derived(b_docs, c_enrolments, whole)
    verdict = "pass" if not differing else f"FAIL ({differing} differ): {first}"
    figures.add(f"B == C on derived fields ({compared:,} whole learners)", verdict)


async def _latency(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    c_rate: float,
    log_dir: Path,
    figures: Figures,
) -> float | None:
    rate = max(1.0, c_rate / 2)
    count = max(200, int(rate * args.latency_s))
    _say(f"latency: {count:,} facts at {rate:,.0f}/s (half of C) for ~{args.latency_s:.0f}s")
    work = build_workload(count, seed=2)
    env = _env(kafka, mongo, run_id, "lat")
    await create_topics(kafka, env.prefix)
    await publish(kafka, env.prefix, work.rules)
    service = ServiceProcess(env, log_dir, "latency").start()
    try:
        await service.wait_consuming(timeout_s=120)
        run: LatencyRun = await steady_load(
            kafka, env.prefix, env.topics.certificates, work.facts, rate
        )
    finally:
        service.kill()
    if not run.latencies:
        figures.add("latency", f"no certificate arrived ({run.sent:,} facts sent)")
        return None
    p50, p99 = percentile(run.latencies, 50), percentile(run.latencies, 99)
    figures.add(
        "latency at half load",
        f"p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, max "
        f"{max(run.latencies) * 1000:,.0f} ms ({len(run.latencies):,} certificates, "
        f"{run.sent:,} facts at {rate:,.0f}/s over {run.seconds:.0f}s)",
    )
    return p99


async def _profile(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    log_dir: Path,
    clock: Clock,
    figures: Figures,
) -> None:
    work = build_workload(args.profile_facts, seed=3)
    env = _env(kafka, mongo, run_id, "prof")
    await _load(env, work, figures, "(profile)")
    budget = min(args.profile_budget, max(20.0, clock.left() - 60))
    _say(f"profile: the service under cProfile on {work.records:,} records (budget {budget:.0f}s)")
    summary = await profile_service(env, log_dir, budget)
    figures.add("profile", f"{summary.records:,} records in {summary.seconds:.1f}s under cProfile")
    print(summary.text, flush=True)
    if args.phases_budget > 0 and clock.left() > 60:
        env = _env(kafka, mongo, run_id, "phases")
        await _load(env, work, figures, "(phases)")
        budget = min(args.phases_budget, max(20.0, clock.left() - 60))
        _say(f"phases: the service's loop in-process, every call timed (budget {budget:.0f}s)")
        times = await time_phases(env, budget)
        figures.add(
            "C in-process (phases)",
            f"{times.records / max(times.wall, 1e-9):,.0f} records/s ({times.records:,} "
            f"records in {times.wall:.1f}s)",
        )
        print(times.table(), flush=True)
    if args.probe_sizes:
        sizes = tuple(int(n) for n in args.probe_sizes.split(","))
        _say(f"store probe: operation cost against collection size {sizes}")
        rows = await asyncio.to_thread(probe_store, mongo, f"bench_{run_id}_probe", sizes)
        for row in rows:
            print(row.line(), flush=True)
        first, last = rows[0], rows[-1]
        figures.add(
            "store probe (find _id $in 100)",
            f"{first.find_in_100_ms:,.0f} ms at {first.size:,} docs -> "
            f"{last.find_in_100_ms:,.0f} ms at {last.size:,} docs",
        )
        figures.add(
            "store probe (replace_one {_id, rev})",
            f"{first.replace_id_rev_ms:,.1f} ms at {first.size:,} docs -> "
            f"{last.replace_id_rev_ms:,.1f} ms at {last.size:,} docs",
        )


async def _large(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    log_dir: Path,
    clock: Clock,
    figures: Figures,
) -> None:
    _say(f"large: building {args.facts_large:,} facts")
    work = build_workload(args.facts_large, seed=4)
    env = _env(kafka, mongo, run_id, "large")
    await _timed("publish large", _load(env, work, figures, "(large)"))
    budget = max(30.0, clock.left() - 20)
    _say(f"C large: the service from an empty database (budget {budget:.0f}s)")
    run = await run_until_caught_up(ServiceProcess(env, log_dir, "large"), env, budget)
    figures.rss_large = run.peak_rss_mib
    figures.large_facts = run.records
    figures.add(f"C large ({args.facts_large:,} facts)", _service_row(run))


def _table(figures: Figures, args: argparse.Namespace) -> None:
    print("\n=== figures ===")
    width = max(len(name) for name, _ in figures.rows)
    for name, value in figures.rows:
        print(f"{name:<{width}}  {value}")
    print("\n=== goals ===")
    a, b, c = figures.a_rate, figures.b_rate, figures.c_rate
    ca = c / a if a and c is not None else None
    cb = c / b if b and c is not None else None
    cb_prefix = figures.c_prefix_rate / b if b and figures.c_prefix_rate else None

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    goals = [
        ("C/A >= 0.5", f"{ca:.4f}" if ca is not None else "n/a", ca >= 0.5 if ca else None),
        ("C/B >= 10", f"{cb:.2f}" if cb is not None else "n/a", cb >= 10 if cb else None),
        (
            "C/B >= 10 (same prefix)",
            f"{cb_prefix:.2f}" if cb_prefix is not None else "n/a",
            cb_prefix >= 10 if cb_prefix else None,
        ),
        (
            "p99 < 1 s at half load",
            f"{figures.p99:.2f} s" if figures.p99 is not None else "n/a",
            figures.p99 < 1.0 if figures.p99 is not None else None,
        ),
    ]
    if figures.rss_main and figures.rss_large:
        growth = figures.rss_large / figures.rss_main - 1
        note = f"{figures.rss_main:.0f} -> {figures.rss_large:.0f} MiB ({growth:+.0%})"
        goals.append(("memory within 20% (main vs large)", note, abs(growth) <= 0.2))
    else:
        goals.append(("memory within 20% (main vs large)", "n/a (no large run)", None))
    for name, value, ok in goals:
        print(f"{name:<36} {value:<28} {verdict(ok)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20k facts, small B, no large run")
    parser.add_argument("--facts", type=int, default=200_000, help="learner facts (main run)")
    parser.add_argument("--facts-large", type=int, default=1_000_000, help="0: no large run")
    parser.add_argument("--b-records", type=int, default=5_000, help="B's prefix, in records")
    parser.add_argument("--b-budget", type=float, default=60.0, help="seconds for B")
    parser.add_argument("--c-budget", type=float, default=240.0, help="seconds for C (main)")
    parser.add_argument("--latency-s", type=float, default=40.0, help="steady-load seconds")
    parser.add_argument("--profile-facts", type=int, default=10_000, help="0: no profile")
    parser.add_argument("--profile-budget", type=float, default=90.0)
    parser.add_argument("--phases-budget", type=float, default=60.0, help="0: no phase timing")
    parser.add_argument(
        "--probe-sizes", default="1000,4000,8000", help="store probe sizes; empty: none"
    )
    parser.add_argument("--budget", type=float, default=570.0, help="the whole run, seconds")
    parser.add_argument("--reserve", type=float, default=150.0, help="kept for later phases")
    parser.add_argument("--log-dir", default="/tmp/bench-logs")
    args = parser.parse_args(argv)
    if args.quick:
        args.facts = min(args.facts, 20_000)
        args.facts_large = 0
        args.b_records = min(args.b_records, 1_000)
        args.latency_s = min(args.latency_s, 30.0)
        args.profile_facts = min(args.profile_facts, 5_000)
        args.probe_sizes = "1000,4000"
        args.c_budget = min(args.c_budget, 120.0)
        args.b_budget = min(args.b_budget, 30.0)
        args.phases_budget = min(args.phases_budget, 30.0)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
