"""The bench's measured runs after A: the service C, the ceiling D, the replays R, the
latency at half load, the large backlog (memory, R at 1M) and the optional profile."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.ceiling import measure_ceiling
from bench.compare import check_exact
from bench.kafka_io import create_topics, publish
from bench.latency import LatencyRun, percentile, steady_load
from bench.phases import time_phases
from bench.plots import plot_c_rate, plot_latency_cdf, plot_r_progress
from bench.profiling import profile_service
from bench.replaying import ReplayRun, run_shadow_replay
from bench.report import Clock, Figures
from bench.service import ServiceRun, run_until_caught_up
from bench.steps import bench_env, load, say, service_row, timed
from bench.workload import Workload, build_workload
from testkit.harness import Env, ServiceProcess, read_docs
from testkit.world import World

__all__ = ["ceiling", "large", "latency", "live_service", "profile", "shadow_replay"]

_C_LARGE_MIN_S = 30.0  # the service on the large backlog: long enough for its peak memory

Docs = dict[str, dict[str, dict[str, Any]]]


async def live_service(
    env: Env, work: Workload, budget_s: float, log_dir: Path, plots: Path, figures: Figures
) -> tuple[ServiceRun, Docs, World | None]:
    """C: the service from an empty database over the whole backlog; its documents checked
    exactly against the pure fold of the stream (returned, for R's check)."""
    say(f"C: the service from an empty database (budget {budget_s:.0f}s)")
    run = await run_until_caught_up(ServiceProcess(env, log_dir, "c"), env, budget_s)
    figures.c_rate, figures.c_complete, figures.rss_main = run.rate, run.complete, run.peak_rss_mib
    figures.c_writes_per_record, figures.c_reads_per_record = (
        run.writes_per_record,
        run.reads_per_record,
    )
    figures.c_writes_per_s = run.db.writes / run.seconds if run.seconds else None
    figures.add("C batch service", service_row(run))
    figures.add(
        "C database work (from its /metrics)",
        f"{run.db.writes:,.0f} documents written ({_per(run.db.writes, run.records)} a record), "
        f"{run.db.reads:,.0f} read commands; second half: "
        f"{_per(run.db_steady.reads, run.steady_records)} read commands a record",
    )
    if run.settle_s is not None:
        figures.add("C after catching up", f"{run.settle_s:.1f}s to exit (recount, outbox flush)")
    docs = await read_docs(env)
    world: World | None = None
    if run.complete:
        assert work.stream is not None
        say("C: the pure fold of the stream, to check the documents against")
        world = work.stream.expected()
        verdict = check_exact(docs, world)
        figures.c_exact = verdict == "pass"
        figures.add("C documents == pure fold", verdict)
    else:
        figures.add("C documents == pure fold", "not checked: C did not catch up within budget")
    plot_c_rate(run.samples, f"C: the service on {run.total:,} records", plots / "bench-c-rate.png")
    return run, docs, world


def _per(amount: float, records: int) -> str:
    return f"{amount / records:.3f}" if records else "n/a"


async def ceiling(
    mongo: str, run_id: str, source_db: str, seconds: float, figures: Figures
) -> None:
    """D: guarded replaces of C's own documents, as fast as one client goes."""
    say(f"D: the stack's ceiling for guarded replaces ({seconds:.0f}s)")
    found = await measure_ceiling(mongo, source_db, f"bench_{run_id}_ceiling", seconds)
    figures.d_writes_per_s, figures.d_inserts_per_s = found.writes_per_s, found.inserts_per_s
    figures.add(
        "D guarded replaces, one client",
        f"{found.writes_per_s:,.0f} writes/s ({found.documents:,} of C's documents, "
        f"~{found.mean_bytes:,.0f} bytes each, commands of 50); inserts "
        f"{found.inserts_per_s:,.0f} documents/s",
    )


async def shadow_replay(
    env: Env,
    shadow_db: str,
    expected: World | None,
    budget_s: float,
    log_dir: Path,
    label: str,
    figures: Figures,
) -> ReplayRun:
    """R: `replay --into` a fresh shadow of `env`'s topics; exact against `expected` if given."""
    say(f"R {label}: replay --into {shadow_db} (budget {budget_s:.0f}s)")
    run = await run_shadow_replay(env, shadow_db, log_dir, budget_s)
    state = "done" if run.exit_code == 0 else f"exit {run.exit_code} (log {run.log_path})"
    figures.add(
        f"R replay --into ({label})",
        f"{run.rate:,.0f} records/s ({run.records:,} records in {run.seconds:.1f}s, {state}; "
        f"process {run.wall_s:.1f}s)",
    )
    if expected is not None and run.exit_code == 0:
        shadow = Env(env.kafka, env.mongo, env.prefix, shadow_db)
        verdict = check_exact(await read_docs(shadow), expected)
        figures.add(f"R documents == pure fold == C's ({label})", verdict)
        figures.r_exact = verdict == "pass" if figures.r_exact is None else figures.r_exact
    return run


async def latency(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    c_rate: float,
    log_dir: Path,
    plots: Path,
    figures: Figures,
) -> None:
    """Certificates' latency with facts sent at half of C's rate (the goal's figure), then at
    `--latency-low-rate` (a steady stream this stack sustains: see docs/performance.md)."""
    runs: list[tuple[float, LatencyRun]] = []
    for label, rate, seed in (
        ("half of C", max(1.0, c_rate / 2), 2),
        ("low", args.latency_low_rate, 5),
    ):
        if rate <= 0:
            continue
        run = await _latency_at(kafka, mongo, run_id, args, rate, seed, log_dir, label)
        if not run.latencies:
            figures.add(f"latency ({label})", f"no certificate arrived ({run.sent:,} facts sent)")
            continue
        p50, p99 = percentile(run.latencies, 50), percentile(run.latencies, 99)
        if label == "half of C":
            figures.p99 = p99
        figures.add(
            f"latency at {rate:,.0f} facts/s ({label})",
            f"p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms, max "
            f"{max(run.latencies) * 1000:,.0f} ms ({len(run.latencies):,} certificates, "
            f"{run.sent:,} facts over {run.seconds:.0f}s)",
        )
        runs.append((rate, run))
    if runs:
        plot_latency_cdf(
            [(f"{rate:,.0f} facts/s", run.latencies) for rate, run in runs],
            "fact to certificate, steady load",
            plots / "bench-latency-cdf.png",
        )


async def _latency_at(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    rate: float,
    seed: int,
    log_dir: Path,
    label: str,
) -> LatencyRun:
    count = max(200, int(rate * args.latency_s))
    say(f"latency ({label}): {count:,} facts at {rate:,.0f}/s for ~{args.latency_s:.0f}s")
    work = build_workload(count, seed=seed)
    env = bench_env(kafka, mongo, run_id, f"lat{seed}")
    await create_topics(kafka, env.prefix)
    await publish(kafka, env.prefix, work.rules)
    service = ServiceProcess(env, log_dir, f"latency-{seed}").start()
    try:
        await service.wait_consuming(timeout_s=120)
        return await steady_load(kafka, env.prefix, env.topics.certificates, work.facts, rate)
    finally:
        service.kill()


async def large(
    kafka: str,
    mongo: str,
    run_id: str,
    args: argparse.Namespace,
    log_dir: Path,
    plots: Path,
    clock: Clock,
    figures: Figures,
) -> None:
    """The large backlog: R over all of it, then the service on it for its peak memory."""
    say(f"large: building {args.facts_large:,} facts")
    work = build_workload(args.facts_large, seed=4)
    env = bench_env(kafka, mongo, run_id, "large")
    await timed("publish large", load(env, work, figures, "(large)"))
    # R's figure is a goal; C large only shows memory, which a poll or two already do: R
    # gets what is left but C large's minimum (a slow hour of a shared machine cut R short).
    budget = max(60.0, clock.left() - _C_LARGE_MIN_S - 10)
    replay = await shadow_replay(
        env, f"bench_{run_id}_large_shadow", None, budget, log_dir, "large", figures
    )
    if replay.exit_code == 0:
        figures.r_rate = replay.rate
    title = f"R: replay --into of {replay.records:,} records"
    plot_r_progress(replay.read, replay.inserted, title, plots / "bench-r-rate.png")
    budget = max(_C_LARGE_MIN_S, min(args.c_large_budget, clock.left() - 10))
    say(f"C large: the service on the backlog, for its memory (budget {budget:.0f}s)")
    run = await run_until_caught_up(ServiceProcess(env, log_dir, "large"), env, budget)
    figures.rss_large, figures.large_facts = run.peak_rss_mib, run.records
    figures.add(f"C large ({args.facts_large:,} facts)", service_row(run))


async def profile(
    kafka: str, mongo: str, run_id: str, args: argparse.Namespace, log_dir: Path, figures: Figures
) -> None:
    """Where the time goes (`--profile`): the service under cProfile, then its loop
    in-process with every store, publisher and consumer call timed."""
    work = build_workload(args.profile_facts, seed=3)
    env = bench_env(kafka, mongo, run_id, "prof")
    await load(env, work, figures, "(profile)")
    say(f"profile: the service under cProfile on {work.records:,} records")
    summary = await profile_service(env, log_dir, args.profile_budget)
    figures.add("profile", f"{summary.records:,} records in {summary.seconds:.1f}s under cProfile")
    print(summary.text, flush=True)
    env = bench_env(kafka, mongo, run_id, "phases")
    await load(env, work, figures, "(phases)")
    say("phases: the service's loop in-process, every call timed")
    times = await time_phases(env, args.profile_budget)
    rate = times.records / max(times.wall, 1e-9)
    figures.add("C in-process (phases)", f"{rate:,.0f} records/s ({times.records:,} records)")
    print(times.table(), flush=True)
