"""The bench's building blocks: fresh environments, loading a workload, C's row, and the
per-event baseline B with its checks."""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from bench.baseline import BaselineRun, run_baseline
from bench.compare import diff_derived, fold_of
from bench.kafka_io import create_topics, publish
from bench.report import Clock, Figures
from bench.service import ServiceRun, prefix_rate
from bench.workload import Workload
from schemas.documents import EnrolmentDoc, enrolment_key
from services.settings import Settings
from testkit.harness import Env, read_docs

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
        key = enrolment_key(fact["data"]["batchId"], fact["data"]["userId"])
        by_learner.setdefault(key, set()).add(fact["id"])
    whole = [k for k, ids in by_learner.items() if ids <= b_run.fact_ids]
    if not c_run.complete:
        figures.add("B == C on derived fields", "not checked: C did not catch up within budget")
        return
    c_enrolments = {k: EnrolmentDoc.model_validate(v) for k, v in c_docs["enrolments"].items()}
    compared, differing, first = diff_derived(b_docs, c_enrolments, whole)
    verdict = "pass" if not differing else f"FAIL ({differing} differ): {first}"
    figures.add(f"B == C on derived fields ({compared:,} whole learners)", verdict)
