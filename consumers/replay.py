"""`batch-service replay`: fold the inbound topics again, into the live or a shadow database.

It reads with no consumer group (it never moves the service's offsets), from `--from` up to
the end offsets it sees when it starts, through the same pipeline as the service. Folding is
idempotent, so a replay into the live database changes nothing that is right and announces
only eligibilities that are new. Into a shadow database it announces nothing, then reports
how the shadow differs from the live database, and with `--swap` makes the shadow live.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any

from consumers.bootstrap import Service, bootstrap, make_consumer, open_mongo_store
from consumers.logs import configure_logging
from consumers.parsing import parse_record
from consumers.replay_fast import replay_into_shadow
from consumers.replay_reading import Positions, polls, position_rows, resumed_bounds
from consumers.run import stop_on_signals
from consumers.upgrade import upgrade_documents
from producers.topics import partitions_of
from schemas.events import BatchCancelled
from schemas.outbound import Announcement, CertificateEligible
from schemas.types import parse_time
from services.diff import diff_collection
from services.pipeline import Pipeline
from services.ports import CheckpointStore, DeadLetter, EventPublisher, MaintenanceStore
from services.settings import Settings
from services.storage import COLLECTIONS

__all__ = ["add_replay_command", "run_replay"]


def add_replay_command(commands: Any) -> None:
    """The `replay` subcommand and its options."""
    replay = commands.add_parser(
        "replay",
        help="fold the inbound topics again (live or shadow database); safe to repeat",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    replay.add_argument(
        "--from",
        dest="start",
        default="earliest",
        help="'earliest' (default) or an RFC 3339 time, e.g. 2026-11-01T00:00:00Z",
    )
    replay.add_argument(
        "--into", metavar="DB", help="a shadow database to fold into; announces nothing, then diffs"
    )
    replay.add_argument(
        "--swap",
        action="store_true",
        help="with --into: afterwards, copy the shadow over the live database",
    )
    replay.add_argument(
        "--pipeline",
        action="store_true",
        help="with --into: fold poll by poll through the service's pipeline (slower; folds "
        "into a database that already holds documents)",
    )
    replay.add_argument(
        "--no-diff",
        action="store_true",
        help="with --into: skip the report against the live database (it reads both whole)",
    )
    replay.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted replay into the same database",
    )


class _Counting:
    """Dead letters were already published by the service: a replay only counts them."""

    def __init__(self, announce: EventPublisher | None) -> None:
        self._announce = announce
        self.dead_letters = 0
        self.certificates = 0
        self.statuses = 0

    async def announce(
        self, events: Sequence[Announcement], traces: Mapping[str, str] | None = None
    ) -> None:
        self.certificates += sum(isinstance(e, CertificateEligible) for e in events)
        self.statuses += sum(not isinstance(e, CertificateEligible) for e in events)
        if self._announce is not None:
            await self._announce.announce(events, traces)

    async def publish_fact(self, event: BatchCancelled) -> None:
        raise AssertionError("a replay folds facts; it never decides new ones")

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        self.dead_letters += len(letters)

    async def reachable(self) -> None:
        pass


async def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Run a replay; 0 when done, 130 when interrupted (resumable), 2 on bad arguments."""
    if args.swap and not args.into:
        print("replay: --swap needs --into", file=sys.stderr)
        return 2
    if args.no_diff and (args.swap or not args.into):
        print("replay: --no-diff goes with --into, without --swap", file=sys.stderr)
        return 2
    if args.into == settings.db:
        # Folding "into" the live database as a shadow would announce nothing: facts the
        # service never folded would be latched there without their announcements.
        print(
            f"replay: --into names the live database {settings.db!r}: to replay into it, leave "
            "--into out (it announces what is new)",
            file=sys.stderr,
        )
        return 2
    if args.swap and args.pipeline:
        # A pipeline replay publishes nothing and empties each outbox as it goes: a shadow so
        # built would go live without the announcements the live documents may have missed.
        print("replay: --swap goes with a fresh --into rebuild, not --pipeline", file=sys.stderr)
        return 2
    start = args.start
    if start != "earliest":
        try:
            start = parse_time(start)
        except ValueError:
            print(
                f"replay: --from wants 'earliest' or an RFC 3339 time, not {start!r}",
                file=sys.stderr,
            )
            return 2
    configure_logging(settings.log_level)
    stop = stop_on_signals()
    target = args.into or settings.db
    if args.into and not args.pipeline:
        # The fast path writes each document once and never reads one back: no cache.
        settings = settings.model_copy(update={"document_cache_size": 0})
    async with bootstrap(settings, db_name=target, stop=stop) as service:
        await upgrade_documents(service)
        if args.into and not args.pipeline:
            return await _into_shadow(service, args, start, stop)
        counting = _Counting(None if args.into else service.publisher)
        pipeline = Pipeline(service.stores, counting)
        done = await _fold(service, pipeline, args, start, stop)
        print(
            f"replay: {counting.certificates} certificate and {counting.statuses} enrolment-status "
            f"events {'computed (not announced)' if args.into else 'announced'}, "
            f"{counting.dead_letters} bad records seen (not dead-lettered again)",
            file=sys.stderr,
        )
        if not done:
            print("replay: interrupted; run again with --resume to continue", file=sys.stderr)
            return 130
        if args.into and not args.no_diff:
            await _report_and_swap(settings, service.stores.maintenance, args.swap)
    return 0


async def _into_shadow(
    service: Service, args: argparse.Namespace, start: str | datetime, stop: asyncio.Event
) -> int:
    """The fast path of `--into` (consumers.replay_fast): an empty shadow, or a resumed one."""
    name = f"replay-shadow:{args.into}"
    stores = service.stores
    saved = await stores.checkpoints.load(name)
    if args.resume and saved is None:
        print(f"replay: nothing to resume into {args.into!r}", file=sys.stderr)
        return 2
    if args.resume and saved is not None and bool(saved.get("keepOutboxes")) != args.swap:
        # The groups inserted so far kept their announcements only for a run with --swap.
        print("replay: resume with --swap exactly when the interrupted run had it", file=sys.stderr)
        return 2
    if not args.resume and await stores.maintenance.all_batch_ids():
        print(
            f"replay: the shadow database {args.into!r} already holds documents: drop it, "
            "choose another name, or fold into it with --pipeline",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    report = await replay_into_shadow(service, start, stop, name, args.resume, args.swap)
    seconds = time.monotonic() - started
    print(
        f"replay: {report.records:,} records in {seconds:.1f}s "
        f"({report.records / max(seconds, 1e-9):,.0f} records/s), {report.documents:,} "
        f"enrolment documents in {report.groups} groups; {report.certificates} certificate and "
        f"{report.statuses} enrolment-status events computed (not announced), "
        f"{report.bad_records} bad records seen (not dead-lettered again)",
        file=sys.stderr,
    )
    if not report.done:
        print("replay: interrupted; run again with --resume to continue", file=sys.stderr)
        return 130
    if not args.no_diff:
        await _report_and_swap(service.settings, stores.maintenance, args.swap)
    return 0


async def _fold(
    service: Service,
    pipeline: Pipeline,
    args: argparse.Namespace,
    start: str | datetime,
    stop: asyncio.Event,
) -> bool:
    settings, checkpoints = service.settings, service.stores.checkpoints
    name = f"replay:{args.into or 'live'}"
    consumer = make_consumer(settings, group_id=None)
    await consumer.start()
    try:
        tps = await partitions_of(settings, list(service.topics.inbound))
        saved = await checkpoints.load(name) if args.resume else None
        begin, end = await resumed_bounds(consumer, tps, start, saved, "position")
        position, topics, max_bytes = dict(begin), service.topics, settings.max_event_bytes
        read = polls(consumer, tps, begin, end, stop, settings.poll_max_records)
        async with aclosing(read):
            async for records, position in read:
                received = [parse_record(r, topics, max_bytes) for r in records]
                await service.retry.run(functools.partial(pipeline.handle, received))
                await _save(checkpoints, name, position, end)
        await pipeline.idle()
        finished = all(position[tp] >= end[tp] for tp in tps)
        if finished:
            await checkpoints.drop(name)
        return finished
    finally:
        await consumer.stop()


async def _save(
    checkpoints: CheckpointStore, name: str, position: Positions, end: Positions
) -> None:
    state = {"position": position_rows(position), "end": position_rows(end)}
    await checkpoints.save(name, state | {"savedAt": time.time()})


async def _report_and_swap(settings: Settings, shadow: MaintenanceStore, swap: bool) -> None:
    """Per collection: counts and a sample on stdout, every differing key in a file."""
    full = Path(tempfile.gettempdir()) / f"batch-service-replay-diff-{int(time.time())}.txt"
    async with open_mongo_store(settings) as mongo:
        live = mongo.maintenance
        with full.open("w") as out:
            for name in COLLECTIONS:
                shadow_docs = await shadow.dump(name)
                report = diff_collection(name, await live.dump(name), shadow_docs)
                for line in report.lines(limit=10):
                    print(line)
                for line in report.lines(limit=None):
                    print(line, file=out)
                if swap:
                    count = await live.replace_all(name, shadow_docs.values())
                    print(f"  swapped: the live {name} now holds the shadow's {count} documents")
    print(f"replay: every difference listed in {full}", file=sys.stderr)
