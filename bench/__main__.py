"""`python -m bench [--quick] [--facts N] [--facts-large N] ...`: every figure of issue 15, the
goals table, `build/bench/results.json` and the plots.

Needs BATCH_SERVICE_KAFKA_BOOTSTRAP and BATCH_SERVICE_MONGODB_URI (`make bench` sets them
through `python -m devstack exec`). Each run uses fresh topics (a unique prefix) and fresh
databases, so runs never see each other's data. Every phase has a time budget, so the whole
run ends within about `--budget` seconds whatever the machine does; a phase cut short by its
budget says so and reports the rate over what it completed.

In order: A (a plain consumer), C (the service over the backlog, exact check), D (the stack's
ceiling), R on the main stream (exact check), B (the per-event baseline on a prefix), the
latency at half of C's rate and at a low rate, then the large backlog: R over it (the R
figure) and the service on it for its memory. `--profile` adds the profile and the
in-process step timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

from bench.kafka_io import consume_all
from bench.report import Clock, Figures, code, machine, print_table, versions, write_results
from bench.runs import ceiling, large, latency, live_service, profile, shadow_replay
from bench.steps import baseline, bench_env, load, timed
from bench.workload import build_workload


async def main(args: argparse.Namespace) -> int:
    kafka = os.environ.get("BATCH_SERVICE_KAFKA_BOOTSTRAP")
    mongo = os.environ.get("BATCH_SERVICE_MONGODB_URI")
    if not kafka or not mongo:
        print("set BATCH_SERVICE_KAFKA_BOOTSTRAP and BATCH_SERVICE_MONGODB_URI", file=sys.stderr)
        return 2
    clock = Clock(args.budget)
    run_id = uuid.uuid4().hex[:8]
    log_dir, out, plots = _folders(args, run_id)
    figures = Figures()
    when = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    print(f"bench run {run_id}: {when}")
    measured = code()  # the code at the start (the tree may change while the bench runs)
    print(f"machine: {machine()}; {versions()}; {measured}")
    print(f"kafka {kafka}, mongodb {mongo}; logs in {log_dir}", flush=True)
    print("(shared machine: every figure is noisy; run twice before trusting a difference)")

    work = build_workload(args.facts, seed=1, keep_stream=True)
    assert work.stream is not None
    main_env = bench_env(kafka, mongo, run_id, "main")
    await timed("publish", load(main_env, work, figures, "(main)"))

    count, seconds = await timed(
        "A", consume_all(kafka, list(main_env.topics.inbound), work.records)
    )
    figures.a_rate = count / seconds
    figures.add("A plain consumer + json", f"{figures.a_rate:,.0f} records/s ({count:,})")

    budget_c = min(args.c_budget, max(30.0, clock.left() - args.reserve))
    c_run, c_docs, world = await live_service(main_env, work, budget_c, log_dir, plots, figures)
    if c_docs["enrolments"]:
        await ceiling(mongo, run_id, main_env.db, args.d_seconds, figures)
    if args.replay_main and clock.left() > args.reserve:
        shadow = f"bench_{run_id}_main_shadow"
        await shadow_replay(main_env, shadow, world, 180.0, log_dir, "main", figures)
    if args.b_records > 0 and clock.left() > args.reserve:
        await baseline(kafka, mongo, run_id, args, clock, work, c_run, c_docs, figures)
    if args.latency_s > 0 and clock.left() > 2 * args.latency_s + args.reserve:
        await latency(kafka, mongo, run_id, args, c_run.rate, log_dir, plots, figures)
    if args.facts_large > 0 and clock.left() > args.c_large_budget + 90:
        await large(kafka, mongo, run_id, args, log_dir, plots, clock, figures)
    elif args.facts_large > 0:
        figures.add("large run", "skipped: no time left in the budget")
    if args.profile:
        await profile(kafka, mongo, run_id, args, log_dir, figures)

    print_table(figures, args)
    meta: dict[str, object] = {
        "id": run_id,
        "when": when,
        "machine": machine(),
        "code": measured,
        "args": vars(args),
    }
    write_results(figures, out / "results.json", meta)
    print(f"\nfigures written to {out / 'results.json'}; plots in {plots}")
    return 0


def _folders(args: argparse.Namespace, run_id: str) -> tuple[Path, Path, Path]:
    """The run's log folder, where results.json goes, and where the plots go (made)."""
    log_dir, out = Path(args.log_dir) / run_id, Path(args.out)
    plots = Path(args.plots) if args.plots else out
    for folder in (log_dir, out, plots):
        folder.mkdir(parents=True, exist_ok=True)
    return log_dir, out, plots


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20k facts, small B, no large run")
    parser.add_argument("--facts", type=int, default=200_000, help="learner facts (main run)")
    parser.add_argument("--facts-large", type=int, default=1_000_000, help="0: no large run")
    parser.add_argument("--b-records", type=int, default=5_000, help="B's prefix, in records")
    parser.add_argument("--b-budget", type=float, default=60.0, help="seconds for B")
    parser.add_argument("--c-budget", type=float, default=240.0, help="seconds for C (main)")
    parser.add_argument("--c-large-budget", type=float, default=60.0, help="C on the large run")
    parser.add_argument("--d-seconds", type=float, default=8.0, help="seconds of D")
    parser.add_argument(
        "--no-replay-main", dest="replay_main", action="store_false", help="no R on the main run"
    )
    parser.add_argument("--latency-s", type=float, default=30.0, help="steady-load seconds")
    parser.add_argument(
        "--latency-low-rate", type=float, default=400.0, help="a second latency run (0: none)"
    )
    parser.add_argument("--profile", action="store_true", help="also profile (a few minutes)")
    parser.add_argument("--profile-facts", type=int, default=10_000)
    parser.add_argument("--profile-budget", type=float, default=90.0)
    parser.add_argument("--budget", type=float, default=570.0, help="the whole run, seconds")
    parser.add_argument("--reserve", type=float, default=120.0, help="kept for later phases")
    parser.add_argument("--log-dir", default="/tmp/bench-logs")
    parser.add_argument("--out", default="build/bench", help="results.json (and the plots)")
    parser.add_argument("--plots", default="", help="where the PNGs go (default: --out)")
    args = parser.parse_args(argv)
    if args.quick:
        args.facts = min(args.facts, 20_000)
        args.facts_large = 0
        args.b_records = min(args.b_records, 1_000)
        args.latency_s = min(args.latency_s, 15.0)
        args.c_budget = min(args.c_budget, 120.0)
        args.b_budget = min(args.b_budget, 30.0)
        args.d_seconds = min(args.d_seconds, 3.0)
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
