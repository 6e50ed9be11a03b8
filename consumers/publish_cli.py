"""`batch-service publish FILE.jsonl`: validate contract events, then publish them.

Every line is checked before anything is sent, so a file with a mistake is not half
published: either all of it goes (or, with `--skip-invalid`, all its valid lines), or none.
Exit status: 0 sent (or nothing to send), 1 invalid lines without `--skip-invalid`, 2 the
file cannot be read, 3 Kafka did not acknowledge (re-running is safe: events keep their ids).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumers.bootstrap import sdk_publisher
from producers.sdk import BatchEventPublisher, InvalidEvent
from services.errors import PublishUnavailable
from services.settings import Settings

__all__ = ["add_publish_command", "main", "run_publish"]

EXIT_INVALID, EXIT_UNREADABLE, EXIT_UNSENT = 1, 2, 3
_SOURCE = "batch-service-publish"  # unused on the wire: every line carries its own `source`


@dataclass
class Checked:
    """The outcome of validating a file: the good events, and a reason per rejected line."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def per_type(self) -> str:
        counts = Counter(e["type"] for e in self.events)
        return ", ".join(f"{t}: {n}" for t, n in sorted(counts.items())) or "none"


def add_publish_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add `publish` to the subcommands of `batch-service`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "publish",
        help="validate contract events (JSON Lines) and publish them to their topics",
        description="Publish one CloudEvents envelope per line to its topic with the contract's "
        "key. Every line is validated first; blank lines are skipped.",
    )
    parser.add_argument("file", metavar="FILE.jsonl", help="the events, one per line; - for stdin")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="send the valid lines even when some are invalid (default: send nothing then)",
    )
    parser.add_argument("--dry-run", action="store_true", help="validate only; send nothing")
    return parser


async def run_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Run `publish` with parsed arguments; returns the exit status."""
    try:
        lines = await asyncio.to_thread(_read_lines, args.file)
    except OSError as exc:
        print(f"batch-service publish: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    publisher = sdk_publisher(settings, source=_SOURCE)
    checked = check_lines(lines, publisher)
    for number, reason in checked.rejected:
        print(f"line {number}: {reason}", file=sys.stderr)
    total = len(checked.events) + len(checked.rejected)
    if checked.rejected and not args.skip_invalid:
        print(
            f"{len(checked.rejected)} of {total} events invalid; nothing sent "
            "(--skip-invalid sends the valid ones)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if checked.events and not args.dry_run:
        try:
            async with publisher:
                await publisher.publish_many(checked.events)
        except PublishUnavailable as exc:
            print(f"batch-service publish: Kafka did not acknowledge: {exc}", file=sys.stderr)
            return EXIT_UNSENT
    verb = "valid (dry run, not sent)" if args.dry_run else "sent"
    print(
        f"{verb}: {len(checked.events)} ({checked.per_type()}); rejected: {len(checked.rejected)}"
    )
    return 0


def check_lines(lines: Sequence[bytes], publisher: BatchEventPublisher) -> Checked:
    """Validate every non-blank line (numbered from 1) against the contract."""
    checked = Checked()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict):
                raise InvalidEvent("not a JSON object")
            publisher.validate(event)
        except (ValueError, RecursionError) as exc:  # InvalidEvent, JSON and UTF-8 errors
            checked.rejected.append((number, _why(exc)))
        else:
            checked.events.append(event)
    return checked


def _why(exc: BaseException) -> str:
    if isinstance(exc, InvalidEvent):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):  # its own "line 1" would confuse: one per line
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8: {exc.reason} at byte {exc.start}"
    return f"invalid JSON: {exc}"


def _read_lines(path: str) -> list[bytes]:
    # Bytes, split on "\n" only, so line numbers match what an editor shows.
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    return [line.removesuffix(b"\r") for line in data.split(b"\n")]


def main(argv: Sequence[str] | None = None) -> int:
    """`publish` on its own (what `batch-service publish` runs), for tests and scripts."""
    parser = argparse.ArgumentParser(prog="batch-service")
    add_publish_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return asyncio.run(run_publish(args, Settings()))


if __name__ == "__main__":
    sys.exit(main())
