"""The bench's steps after C: the baseline B, latency, the profile and the large run."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from bench.baseline import BaselineRun, run_baseline
from bench.compare import diff_derived, fold_of
from bench.kafka_io import create_topics, publish
from bench.latency import LatencyRun, percentile, steady_load
from bench.phases import time_phases
from bench.profiling import profile_service
from bench.report import Clock, Figures
from bench.service import ServiceRun, prefix_rate, run_until_caught_up
from bench.storeprobe import probe_store
from bench.workload import Workload, build_workload
from schemas.documents import EnrolmentDoc
from services.settings import Settings
from testkit.harness import Env, ServiceProcess, read_docs

T = TypeVar("T")


def say(message: str) -> None:
    print(f"[bench +{time.perf_counter() - _T0:6.1f}s] {message}", flush=True)


_T0 = time.perf_counter()


async def timed(label: str, call: Awaitable[T]) -> T:
    started = time.perf_counter()
    result = await call
    say(f"{label} done in {time.perf_counter() - started:.1f}s")
    return result


def bench_env(kafka: str, mongo: str, run_id: str, name: str, **extra: str) -> Env:
    """A fresh prefix and database; the service with its own defaults where the test harness
    shortens them (the outbox's timing: tests want a crash's leftovers relayed at once)."""
    prefix = f"bench{run_id}{name}."
    defaults = {
        f"BATCH_SERVICE_{knob.upper()}": str(Settings.model_fields[knob].default)
        for knob in ("outbox_ack_delay_s", "relay_min_age_s")
    }
    return Env(kafka, mongo, prefix, f"bench_{run_id}_{name}", **(defaults | extra))


async def load(env: Env, work: Workload, figures: Figures, label: str) -> None:
    await create_topics(env.kafka, env.prefix)
    seconds = await publish(env.kafka, env.prefix, work.rules)
    seconds += await publish(env.kafka, env.prefix, work.facts)
    figures.add(
        f"publish {label}",
        f"{work.records:,} records ({len(work.facts):,} facts, {work.learners:,} learners) "
        f"in {seconds:.1f}s = {work.records / seconds:,.0f} records/s",
    )


def service_row(run: ServiceRun) -> str:
    state = "complete" if run.complete else f"PARTIAL (budget): {run.records:,}/{run.total:,}"
    return (
        f"{run.rate:,.0f} records/s ({run.records:,} records in {run.seconds:.1f}s, {state}, "
        f"exit {run.exit_code}, peak RSS {run.peak_rss_mib:.0f} MiB, log {run.log_path})"
    )


async def baseline(
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
    b_env = bench_env(kafka, mongo, run_id, "main")  # same topics, own group and database
    b_budget = min(args.b_budget, max(10.0, clock.left() - args.reserve))
    say(f"B: per-event baseline on up to {args.b_records:,} records (budget {b_budget:.0f}s)")
    b_run = await timed(
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
    await check_b(b_run, work, mongo, f"bench_{run_id}_baseline", c_docs, c_run, figures)


async def check_b(
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


async def latency(
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
    say(f"latency: {count:,} facts at {rate:,.0f}/s (half of C) for ~{args.latency_s:.0f}s")
    work = build_workload(count, seed=2)
    env = bench_env(kafka, mongo, run_id, "lat")
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


async def profile(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    log_dir: Path,
    clock: Clock,
    figures: Figures,
) -> None:
    work = build_workload(args.profile_facts, seed=3)
    env = bench_env(kafka, mongo, run_id, "prof")
    await load(env, work, figures, "(profile)")
    budget = min(args.profile_budget, max(20.0, clock.left() - 60))
    say(f"profile: the service under cProfile on {work.records:,} records (budget {budget:.0f}s)")
    summary = await profile_service(env, log_dir, budget)
    figures.add("profile", f"{summary.records:,} records in {summary.seconds:.1f}s under cProfile")
    print(summary.text, flush=True)
    if args.phases_budget > 0 and clock.left() > 60:
        env = bench_env(kafka, mongo, run_id, "phases")
        await load(env, work, figures, "(phases)")
        budget = min(args.phases_budget, max(20.0, clock.left() - 60))
        say(f"phases: the service's loop in-process, every call timed (budget {budget:.0f}s)")
        times = await time_phases(env, budget)
        figures.add(
            "C in-process (phases)",
            f"{times.records / max(times.wall, 1e-9):,.0f} records/s ({times.records:,} "
            f"records in {times.wall:.1f}s)",
        )
        print(times.table(), flush=True)
    if args.probe_sizes:
        sizes = tuple(int(n) for n in args.probe_sizes.split(","))
        say(f"store probe: operation cost against collection size {sizes}")
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


async def large(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    log_dir: Path,
    clock: Clock,
    figures: Figures,
) -> None:
    say(f"large: building {args.facts_large:,} facts")
    work = build_workload(args.facts_large, seed=4)
    env = bench_env(kafka, mongo, run_id, "large")
    await timed("publish large", load(env, work, figures, "(large)"))
    budget = max(30.0, clock.left() - 20)
    say(f"C large: the service from an empty database (budget {budget:.0f}s)")
    run = await run_until_caught_up(ServiceProcess(env, log_dir, "large"), env, budget)
    figures.rss_large = run.peak_rss_mib
    figures.large_facts = run.records
    figures.add(f"C large ({args.facts_large:,} facts)", service_row(run))
