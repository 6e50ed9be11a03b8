"""`python -m faults [--only NAME] [--runs N] [--quick]`: every fault scenario, then a table.

Needs the local stack (it stops and starts its servers): the stack of DEVSTACK_DIR (default
`.stack`), started here unless it runs. When BATCH_SERVICE_KAFKA_BOOTSTRAP /
BATCH_SERVICE_MONGODB_URI are set (as `make faults` does), they must name that stack.
Exits 1 if any scenario fails, 2 if the suite cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from devstack import LocalStack
from devstack.config import StackError
from faults.runner import Ctx, RunResult, new_env
from faults.scenarios import SCENARIOS

KAFKA_ENV = "BATCH_SERVICE_KAFKA_BOOTSTRAP"
MONGO_ENV = "BATCH_SERVICE_MONGODB_URI"
COLUMNS = (
    ("scenario", 22),
    ("runs", 4),
    ("facts", 6),
    ("faults", 6),
    ("docs exact", 10),
    ("certs exp/recv/rep/miss/extra", 29),
    ("dead letters", 12),
    ("result", 6),
    ("seconds", 7),
)


def _context(quick: bool, log_dir: Path) -> Ctx:
    stack = LocalStack()
    kafka, mongo = os.environ.get(KAFKA_ENV), os.environ.get(MONGO_ENV)
    info = stack.info()
    if info is None:
        if kafka or mongo:
            raise StackError(
                f"{KAFKA_ENV}/{MONGO_ENV} are set but the local stack at "
                f"{stack.layout.stack_dir} is not running: the fault suite must be able to "
                "stop and start the servers it tests against"
            )
        info = stack.up()
    if (kafka or mongo) and (kafka, mongo) != (info.kafka_bootstrap, info.mongodb_uri):
        raise StackError(
            f"{KAFKA_ENV}={kafka} / {MONGO_ENV}={mongo} are not the local stack at "
            f"{stack.layout.stack_dir} ({info.kafka_bootstrap}, {info.mongodb_uri}); "
            "set DEVSTACK_DIR to the stack those addresses belong to"
        )
    return Ctx(stack, info.kafka_bootstrap, info.mongodb_uri, log_dir, quick)


def _drop(ctx: Ctx, db: str) -> None:
    client: MongoClient[dict[str, object]] = MongoClient(ctx.mongo, serverSelectionTimeoutMS=3000)
    try:
        with contextlib.suppress(PyMongoError):
            client.drop_database(db)
    finally:
        client.close()


async def run_scenario(ctx: Ctx, name: str, runs: int) -> list[RunResult]:
    results = []
    for run in range(runs):
        env = new_env(ctx, name)
        began = time.monotonic()
        print(f"-- {name} run {run + 1}/{runs} (prefix {env.prefix})", flush=True)
        try:
            result = await SCENARIOS[name](ctx, env, 100 + run)
        except Exception as exc:  # a scenario that cannot finish is a failure, with its reason
            result = RunResult(docs_exact=False)
            result.problems.append(f"{type(exc).__name__}: {exc}"[:2000])
            traceback.print_exc()
        finally:
            await asyncio.to_thread(ctx.heal)
        result.seconds = time.monotonic() - began
        if result.ok:
            _drop(ctx, env.db)  # keep the evidence of a failure
        print(f"   {'PASS' if result.ok else 'FAIL'} {result.summary()}", flush=True)
        results.append(result)
    return results


def _row(values: list[str]) -> str:
    return " | ".join(v.ljust(w) for v, (_, w) in zip(values, COLUMNS, strict=True))


def table(all_results: dict[str, list[RunResult]]) -> str:
    lines = [_row([c for c, _ in COLUMNS]), "-+-".join("-" * w for _, w in COLUMNS)]
    notes = []
    for name, results in all_results.items():
        ok = all(r.ok for r in results)
        certs = "/".join(
            str(sum(getattr(r, f) for r in results))
            for f in ("expected", "received", "repeats", "missing", "extra")
        )
        exact = sum(bool(r.docs_exact) for r in results)
        lines.append(
            _row(
                [
                    name,
                    str(len(results)),
                    str(sum(r.facts for r in results)),
                    str(sum(r.faults for r in results)),
                    f"{exact}/{len(results)}",
                    certs,
                    str(sum(r.dead_letters for r in results)),
                    "PASS" if ok else "FAIL",
                    f"{sum(r.seconds for r in results):.0f}",
                ]
            )
        )
        for r in results:
            notes += [f"{name}: {n}" for n in r.notes if n]
            notes += [f"{name}: PROBLEM {p}" for p in r.problems]
    return "\n".join([*lines, "", *notes])


async def main_async(only: list[str], runs: int, quick: bool) -> int:
    log_dir = Path(tempfile.mkdtemp(prefix="faults-logs-"))
    ctx = _context(quick, log_dir)
    print(f"stack {ctx.stack.layout.stack_dir}: kafka {ctx.kafka}, mongodb {ctx.mongo}")
    print(f"service logs in {log_dir}", flush=True)
    all_results = {name: await run_scenario(ctx, name, runs) for name in only}
    print()
    print(table(all_results))
    return 0 if all(r.ok for rs in all_results.values() for r in rs) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    parser.add_argument(
        "--only", action="append", choices=sorted(SCENARIOS), help="run this scenario (repeatable)"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs of each scenario (default 1)")
    parser.add_argument("--quick", action="store_true", help="smaller streams, fewer kills")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        return asyncio.run(main_async(args.only or list(SCENARIOS), args.runs, args.quick))
    except StackError as exc:
        print(f"faults: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
