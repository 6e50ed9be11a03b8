"""`batch-service dlq list | show | redrive`: the dead-letter topic without a Kafka tool.

Exit status: 0 done, 1 nothing at that offset (`show`), 2 bad arguments, 3 Kafka or MongoDB
did not answer (run a redrive again: the letters it sent are skipped).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

import structlog

from consumers.bootstrap import open_mongo_store
from consumers.dead_letters import Letter, LetterFilter, RedriveReport, read_letters, redrive
from consumers.logs import configure_logging
from producers.kafka import KafkaPublisher
from schemas.topics import Topics
from schemas.types import parse_time
from services.errors import BatchServiceError
from services.settings import Settings

__all__ = ["add_dlq_command", "run_dlq"]

EXIT_MISSING, EXIT_USAGE, EXIT_UNAVAILABLE = 1, 2, 3
log = structlog.get_logger("batch_service.dlq")


def add_dlq_command(commands: Any) -> None:
    """Add `dlq` and its subcommands to `batch-service`."""
    dlq = commands.add_parser(
        "dlq", help="list, show and redrive dead letters", description=__doc__
    ).add_subparsers(dest="dlq_command", required=True)
    listing = dlq.add_parser("list", help="one line per letter (oldest first)")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="JSON Lines instead of a table")
    show = dlq.add_parser("show", help="one letter: headers and value")
    show.add_argument("offset", metavar="OFFSET", help="the letter's offset, or PARTITION:OFFSET")
    show.add_argument("--partition", type=int, help="the letter's partition")
    again = dlq.add_parser(
        "redrive",
        help="send selected letters back to their topic, once",
        description="Send the selected letters' original key, value and headers back to the "
        "topic their type belongs on (their source topic otherwise). Each letter is sent once: "
        "a second redrive skips it. Select with filters; --dry-run shows what would be sent.",
    )
    _filters(again)
    again.add_argument("--dry-run", action="store_true", help="report only; send nothing")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reason", help="a reason code (invalid-event, ...) or part of the text")
    parser.add_argument("--topic", help="the source topic (with or without the prefix)")
    parser.add_argument("--since", help="letters at or after this RFC 3339 time")
    parser.add_argument("--until", help="letters at or before this RFC 3339 time")


async def run_dlq(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("WARNING")
    try:
        chosen = _chosen(args)
    except ValueError as exc:
        print(f"dlq: {exc}", file=sys.stderr)
        return EXIT_USAGE
    topics = Topics(settings.topic_prefix)
    try:
        if args.dlq_command == "list":
            return await _list(args, settings, topics, chosen)
        if args.dlq_command == "show":
            return await _show(args, settings, topics)
        return await _redrive(args, settings, topics, chosen)
    except BatchServiceError as exc:
        print(f"dlq: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE


def _chosen(args: argparse.Namespace) -> LetterFilter:
    def when(text: str | None, flag: str) -> datetime | None:
        if text is None:
            return None
        try:
            return parse_time(text)
        except ValueError:
            raise ValueError(f"{flag} wants an RFC 3339 time, not {text!r}") from None

    return LetterFilter(
        reason=getattr(args, "reason", None),
        topic=getattr(args, "topic", None),
        since=when(getattr(args, "since", None), "--since"),
        until=when(getattr(args, "until", None), "--until"),
    )


async def _selected(settings: Settings, topics: Topics, chosen: LetterFilter) -> list[Letter]:
    return [
        letter
        async for letter in read_letters(settings, topics, since=chosen.since)
        if chosen.matches(letter, topics.prefix)
    ]


async def _list(
    args: argparse.Namespace, settings: Settings, topics: Topics, chosen: LetterFilter
) -> int:
    letters = await _selected(settings, topics, chosen)
    # Oldest first across partitions (each partition is read in order, not the topic).
    letters.sort(key=lambda letter: (letter.timestamp_ms, letter.partition, letter.offset))
    for letter in letters[: args.limit]:
        row = letter.summary()
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            print(
                f"{letter.where:>10}  {row['time']}  {row['source']}  "
                f"{row['eventId'] or '-'}  {row['reason']}"
            )
    more = f" (first {args.limit} shown)" if len(letters) > args.limit else ""
    print(f"dlq: {len(letters)} letters match{more}", file=sys.stderr)
    return 0


async def _show(args: argparse.Namespace, settings: Settings, topics: Topics) -> int:
    text = args.offset
    partition = args.partition
    try:
        if ":" in text:
            left, text = text.split(":", 1)
            partition = int(left)
        offset = int(text)
    except ValueError:
        print(f"dlq show: OFFSET wants N or PARTITION:N, not {args.offset!r}", file=sys.stderr)
        return EXIT_USAGE
    found = [
        letter
        async for letter in read_letters(settings, topics, offset=offset, partition=partition)
    ]
    for letter in found:
        print(json.dumps(_whole(letter), indent=2, ensure_ascii=False))
    if not found:
        print(f"dlq show: no letter at offset {args.offset}", file=sys.stderr)
        return EXIT_MISSING
    return 0


def _whole(letter: Letter) -> dict[str, Any]:
    value: Any = None
    if letter.value is not None:
        try:
            value = json.loads(letter.value)
        except ValueError:
            value = letter.value.decode("utf-8", "replace")
    headers = {
        k: v.decode("utf-8", "replace") if v is not None else None for k, v in letter.headers
    }
    return {**letter.summary(), "headers": headers, "value": value}


async def _redrive(
    args: argparse.Namespace, settings: Settings, topics: Topics, chosen: LetterFilter
) -> int:
    letters = await _selected(settings, topics, chosen)
    verb = "would send" if args.dry_run else "sent"
    shown = [time.monotonic()]

    def progress(report: RedriveReport) -> None:
        if time.monotonic() - shown[0] >= 1.0:
            shown[0] = time.monotonic()
            done = len(report.sent) + len(report.already) + len(report.unsendable)
            print(f"dlq redrive: {done}/{report.selected}", file=sys.stderr)

    async with open_mongo_store(settings) as mongo, KafkaPublisher(settings, topics) as kafka:
        checkpoints = mongo.stores().checkpoints
        report = await redrive(
            letters, kafka, checkpoints, topics, dry_run=args.dry_run, on_progress=progress
        )
    for letter, target in report.sent:
        print(f"{verb} {letter.where} -> {target}  {letter.header('dlq-event-id') or '-'}")
    for letter in report.already:
        print(f"skipped {letter.where}: redriven before")
    for letter, why in report.unsendable:
        print(f"skipped {letter.where}: {why}")
    print(
        f"dlq redrive: {report.selected} selected, {len(report.sent)} {verb}, "
        f"{len(report.already)} redriven before, {len(report.unsendable)} cannot be sent",
        file=sys.stderr,
    )
    return 0
