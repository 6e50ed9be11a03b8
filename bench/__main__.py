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
import sys
import time
import uuid
from pathlib import Path
from typing import TypeVar

from bench.compare import check_exact
from bench.kafka_io import consume_all
from bench.report import Clock, Figures, code, machine, print_table, versions
from bench.service import run_until_caught_up
from bench.steps import baseline, bench_env, large, latency, load, profile, say, service_row, timed
from bench.workload import build_workload
from testkit.harness import ServiceProcess, read_docs

T = TypeVar("T")


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
    print(f"machine: {machine()}; {versions()}; {code()}")
    print(f"kafka {kafka}, mongodb {mongo}; logs in {log_dir}", flush=True)
    print("(shared machine: every figure is noisy; run twice before trusting a difference)")

    # 1. Load.
    say(f"building {args.facts:,} facts")
    work = build_workload(args.facts, seed=1, keep_stream=True)
    assert work.stream is not None
    main_env = bench_env(kafka, mongo, run_id, "main")
    await timed("publish", load(main_env, work, figures, "(main)"))

    # 2. Upper bound A.
    count, seconds = await timed(
        "A", consume_all(kafka, list(main_env.topics.inbound), work.records)
    )
    figures.a_rate = count / seconds
    figures.add("A plain consumer + json", f"{figures.a_rate:,.0f} records/s ({count:,})")

    # 4. Batch Service C (before B: B's database and offsets are separate anyway).
    budget_c = min(args.c_budget, max(30.0, clock.left() - args.reserve))
    say(f"C: the service from an empty database (budget {budget_c:.0f}s)")
    c_run = await run_until_caught_up(ServiceProcess(main_env, log_dir, "c"), main_env, budget_c)
    figures.c_rate = c_run.rate
    figures.rss_main = c_run.peak_rss_mib
    figures.add("C batch service", service_row(c_run))
    c_docs = await read_docs(main_env)
    if c_run.complete:
        world = work.stream.expected()
        figures.add("C documents == pure fold", check_exact(c_docs, world))
    else:
        figures.add("C documents == pure fold", "not checked: C did not catch up within budget")

    # 3. Baseline B on a prefix.
    if args.b_records > 0:
        await baseline(kafka, mongo, run_id, args, clock, work, c_run, c_docs, figures)
    else:
        figures.add("B per-event baseline", "skipped (--b-records 0)")

    # 5. Latency at half of C's throughput.
    if args.latency_s > 0 and clock.left() > args.latency_s + 30:
        figures.p99 = await latency(kafka, mongo, run_id, args, c_run.rate, log_dir, figures)
    else:
        figures.add("latency", "skipped: no time left in the budget")

    # 7. Profile.
    if args.profile_facts > 0 and clock.left() > 60:
        await profile(kafka, mongo, run_id, args, log_dir, clock, figures)
    else:
        figures.add("profile", "skipped: no time left in the budget")

    # 6. Memory at the large size.
    if args.facts_large > 0 and clock.left() > 90:
        await large(kafka, mongo, run_id, args, log_dir, clock, figures)
    elif args.facts_large > 0:
        figures.add("C large run", "skipped: no time left in the budget")

    print_table(figures, args)
    return 0


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
